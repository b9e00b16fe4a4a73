import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { parseApiKey } from '../src/auth/api-key-format.ts'
import { openDatabase, sqliteFileIn } from '../src/db/database.ts'
import { testDialect } from './helpers/database.ts'

/**
 * The newcomer's path: `serve` on an empty DATA_DIR, as a real process on a real port. It
 * bootstraps an organisation and key, prints them, and the API answers to them; a restart on
 * the same DATA_DIR keeps the data and does not bootstrap again.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const START_TIMEOUT_MS = 60_000

interface Server {
  child: ChildProcess
  baseUrl: string
  output(): string
  stop(): Promise<number | null>
}

const children = new Set<ChildProcess>()
let dataDir: string

function waitFor(child: ChildProcess, read: () => string, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = read().match(pattern)
      if (match) {
        cleanup()
        resolve(match)
      }
    }
    const onExit = (code: number | null) => {
      cleanup()
      reject(new Error(`server exited (${code}) before printing ${pattern}:\n${read()}`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`server did not print ${pattern} within ${START_TIMEOUT_MS} ms:\n${read()}`))
    }, START_TIMEOUT_MS)
    const cleanup = () => {
      clearTimeout(timer)
      child.stdout?.off('data', check)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', check)
    child.on('exit', onExit)
    check()
  })
}

/** Starts `serve` on a free port and waits until it reports where it listens. */
async function start(): Promise<Server> {
  // A minimal environment: nothing from the developer's shell (DATABASE_URL, PORT …) leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const output = () => `${stdout}${stderr ? `\n[stderr]\n${stderr}` : ''}`
  const [, baseUrl] = await waitFor(child, output, /connector-registry listening on (http:\/\/[^\s"]+)/)
  return {
    child,
    baseUrl: baseUrl!,
    output,
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      const code = await exited
      clearTimeout(timer)
      children.delete(child)
      return code
    },
  }
}

async function call(
  server: Server,
  method: string,
  url: string,
  options: { key?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; text: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const headers: Record<string, string> = {}
  if (options.key) headers.authorization = `Bearer ${options.key}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  assert.ok(res.status < 500, `${method} ${url}: ${res.status} ${text}`)
  return { status: res.status, headers: res.headers, text, json }
}

const skip = testDialect === 'postgres' ? 'serve/bootstrap runs on SQLite only (DATA_DIR); covered by the SQLite pass' : false

describe('serve on a fresh DATA_DIR', { skip }, () => {
  let server: Server | undefined
  let organisationId: string
  let apiKey: string
  let bootstrapFile: string
  let bootstrapContent: string
  let connectorId: string

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-serve-'))
    bootstrapFile = path.join(dataDir, 'bootstrap.json')
  })

  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  test('prints the organisation, the key, the docs URL and a curl line once, and writes bootstrap.json (0600)', async () => {
    server = await start()
    assert.match(server.baseUrl, /^http:\/\/127\.0\.0\.1:(\d+)$/)
    assert.notEqual(new URL(server.baseUrl).port, '0', 'the real port is reported')
    const block = await waitFor(server.child, server.output, /A fresh database[\s\S]*?curl [^\n]+\n/)
    const text = block[0]
    organisationId = /organisation id:\s+(\S+)/.exec(text)?.[1] ?? ''
    apiKey = /API key:\s+(\S+)/.exec(text)?.[1] ?? ''
    assert.match(organisationId, /^[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.ok(parseApiKey(apiKey), `not an API key: ${apiKey}`)
    assert.ok(text.includes(`${server.baseUrl}/docs`), `no docs URL in ${text}`)
    const curl = /curl [^\n]+/.exec(text)![0]
    assert.ok(curl.includes(`Authorization: Bearer ${apiKey}`), curl)
    assert.ok(curl.includes(`${server.baseUrl}/o/${organisationId}/connectors`), curl)
    assert.equal(server.output().split('A fresh database').length, 2, 'the block is printed once')

    const stat = fs.statSync(bootstrapFile)
    assert.equal(stat.mode & 0o777, 0o600, `bootstrap.json mode is ${(stat.mode & 0o777).toString(8)}`)
    bootstrapContent = fs.readFileSync(bootstrapFile, 'utf8')
    assert.deepEqual(JSON.parse(bootstrapContent), { organisationId, apiKey })
    assert.ok(fs.existsSync(sqliteFileIn(dataDir)), 'the database is created in DATA_DIR')
  })

  test('health, readiness, the OpenAPI document and the docs answer without credentials', async () => {
    assert.ok(server)
    const health = await call(server, 'GET', '/healthz')
    assert.equal(health.status, 200)
    assert.deepEqual(health.json, { status: 'ok' })
    const ready = await call(server, 'GET', '/readyz')
    assert.equal(ready.status, 200)
    assert.deepEqual(ready.json, { status: 'ready' })

    const openapi = await call(server, 'GET', '/openapi.json')
    assert.equal(openapi.status, 200)
    assert.match(String(openapi.headers.get('content-type')), /^application\/json/)
    const doc = openapi.json as { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> }
    assert.match(doc.openapi, /^3\.1\.\d+$/)
    const operationIds = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId)))
    for (const id of [
      'CreateHTTPConnector',
      'ListConnectors',
      'ListPublicConnectors',
      'ListCategories',
      'GetConnector',
      'UpdateConnector',
      'DeleteConnector',
      'UpdateConnectorTags',
      'UpdateConnectorCategories',
      'CreateConnectorVersion',
      'ListConnectorVersions',
      'GetConnectorVersion',
      'UpdateConnectorVersion',
      'DeleteConnectorVersion',
      'PublishConnector',
      'UnpublishConnector',
    ]) {
      assert.ok(operationIds.has(id), `operation ${id} missing from /openapi.json`)
    }
    assert.ok(doc.paths['/o/{organisation_id}/connectors/{connector_id}/versions/{version}']?.put, 'UpdateConnectorVersion path')

    const docs = await call(server, 'GET', '/docs')
    assert.equal(docs.status, 200)
    assert.match(String(docs.headers.get('content-type')), /^text\/html/)
    assert.match(docs.text, /<html/i)
  })

  test('the printed key works: the curl line answers, a connector can be created; other credentials are refused', async () => {
    assert.ok(server)
    const list = await call(server, 'GET', `/o/${organisationId}/connectors`, { key: apiKey })
    assert.equal(list.status, 200, list.text)
    assert.equal(list.json.totalCount, 0)

    const created = await call(server, 'POST', `/o/${organisationId}/protocols/http/connectors`, {
      key: apiKey,
      body: {
        name: 'First connector',
        baseUrl: 'https://api.example.com',
        authSchemeConfigs: [{ id: '01J9ZQ0000000000000000KEY1', description: 'API key', schemeType: 'api-key', name: 'X-API-Key', in: 'header' }],
      },
    })
    assert.equal(created.status, 201, created.text)
    assert.equal(created.json.organisationId, organisationId)
    assert.equal(created.json.name, 'First connector')
    connectorId = created.json.id

    const version = await call(server, 'POST', `/o/${organisationId}/connectors/${connectorId}/versions`, { key: apiKey, body: { name: 'v1' } })
    assert.equal(version.status, 201, version.text)
    const published = await call(server, 'POST', `/o/${organisationId}/connectors/${connectorId}/versions/v1/publish`, { key: apiKey })
    assert.equal(published.status, 200, published.text)

    const anonymous = await call(server, 'GET', `/o/${organisationId}/connectors`)
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.json.code, 'unauthenticated')
    const wrong = await call(server, 'GET', `/o/${organisationId}/connectors`, { key: `${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}` })
    assert.equal(wrong.status, 401)
  })

  test('a restart on the same DATA_DIR keeps the data and does not bootstrap again', async () => {
    assert.ok(server)
    const code = await server.stop()
    assert.equal(code, 0, `the server did not shut down cleanly:\n${server.output()}`)

    server = await start()
    const got = await call(server, 'GET', `/o/${organisationId}/connectors/${connectorId}`, { key: apiKey })
    assert.equal(got.status, 200, got.text)
    assert.equal(got.json.name, 'First connector')
    assert.deepEqual(
      (got.json.versions as { name: string; isLatest: boolean; publishedAt: string | null }[]).map((v) => [v.name, v.isLatest, v.publishedAt !== null]),
      [['v1', true, true]],
    )
    const latest = await call(server, 'GET', `/o/${organisationId}/connectors/${connectorId}/versions/latest`, { key: apiKey })
    assert.equal(latest.status, 200)
    assert.equal(latest.json.name, 'v1')

    const second = server
    assert.equal(await second.stop(), 0)
    server = undefined
    assert.doesNotMatch(second.output(), /A fresh database|API key:|organisation id:/, 'bootstrapped again')
    assert.ok(!second.output().includes(apiKey), 'the key is printed again')
    assert.equal(fs.readFileSync(bootstrapFile, 'utf8'), bootstrapContent, 'bootstrap.json was rewritten')

    const db = openDatabase({ sqliteFile: sqliteFileIn(dataDir) })
    try {
      const orgs = await db.kysely.selectFrom('organisations').select('id').execute()
      assert.deepEqual(orgs, [{ id: organisationId }])
      const keys = await db.kysely.selectFrom('api_keys').select(['id', 'organisation_id']).execute()
      assert.deepEqual(keys, [{ id: parseApiKey(apiKey)!.keyId, organisation_id: organisationId }])
      const connectors = await db.kysely.selectFrom('connectors').select('id').execute()
      assert.deepEqual(connectors, [{ id: connectorId }])
    } finally {
      await db.close()
    }
  })
})
