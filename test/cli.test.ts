import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp } from '../src/app.ts'
import { hashSecret, parseApiKey } from '../src/auth/api-key-format.ts'
import { authenticateApiKey, issueApiKey } from '../src/auth/api-keys.service.ts'
import { openDatabase, sqliteFileIn, type Db } from '../src/db/database.ts'
import { newId } from '../src/ids.ts'
import { testDialect } from './helpers/database.ts'

/**
 * The CLI as a user runs it: a separate process on the configured database (a temporary
 * DATA_DIR on SQLite, a fresh database when TEST_DIALECT=postgres). Independent commands run
 * in parallel to keep the file fast.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ULID = /[0-9A-HJKMNP-TV-Z]{26}/

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

let dataDir: string
let databaseUrl: string | undefined
let pgName: string | undefined
let env: NodeJS.ProcessEnv
let db: Db | undefined
let app: FastifyInstance | undefined

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

function assertOk(run: Run, what: string): void {
  assert.equal(run.code, 0, `${what} failed: ${run.stderr}`)
  assert.equal(run.stderr, '', `${what} wrote to stderr`)
}

/** A failure: non-zero exit, a message on stderr, nothing on stdout. */
function assertFails(run: Run, pattern: RegExp, what: string): void {
  assert.notEqual(run.code, 0, `${what} exited 0: ${run.stdout}`)
  assert.ok(run.code !== null, `${what} was killed`)
  assert.equal(run.stdout, '', `${what} wrote to stdout`)
  assert.match(run.stderr, pattern, what)
  assert.doesNotMatch(run.stderr, /\bat .+:\d+:\d+\)?$/m, `${what} printed a stack trace`)
}

function database(): Db {
  db ??= openDatabase(databaseUrl ? { databaseUrl, poolMax: 2 } : { sqliteFile: sqliteFileIn(dataDir) })
  return db
}

async function application(): Promise<FastifyInstance> {
  if (!app) {
    app = await buildApp({ db: database() })
    await app.ready()
  }
  return app
}

async function listAs(key: string, organisationId: string): Promise<number> {
  const res = await (await application()).inject({
    method: 'GET',
    url: `/o/${organisationId}/connectors`,
    headers: { authorization: `Bearer ${key}` },
  })
  return res.statusCode
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-cli-'))
  env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' }
  delete env.NODE_TEST_CONTEXT
  delete env.DATABASE_URL
  if (testDialect === 'postgres') {
    const admin = process.env.DATABASE_URL
    assert.ok(admin, 'TEST_DIALECT=postgres needs DATABASE_URL')
    pgName = `cr_cli_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    const client = new pg.Client({ connectionString: admin })
    await client.connect()
    await client.query(`create database ${pgName}`)
    await client.end()
    const url = new URL(admin)
    url.pathname = `/${pgName}`
    databaseUrl = url.toString()
    env.DATABASE_URL = databaseUrl
  }
})

after(async () => {
  await app?.close()
  await db?.close()
  if (pgName) {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
    await client.connect()
    await client.query(`drop database if exists ${pgName} with (force)`)
    await client.end()
  }
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('cli', () => {
  let orgId: string
  let keyId: string
  let key: string

  test('migrate creates the schema; commands that cannot run fail on stderr with a non-zero exit', async () => {
    const [migrate, unknown, noName, badOrg] = await Promise.all([
      cli('migrate'),
      cli('frobnicate'),
      cli('org', 'create'),
      cli('key', 'create', '--org', 'not-a-ulid'),
    ])
    assertOk(migrate, 'migrate')
    assert.match(migrate.stdout, /^applied: \S+/)
    assertFails(unknown, /unknown command 'frobnicate'/i, 'unknown command')
    assertFails(noName, /--name/, 'org create without --name')
    assertFails(badOrg, /--org.*ULID|ULID.*--org/i, 'key create with a bad ULID')

    const tables = await database().kysely.selectFrom('organisations').selectAll().execute()
    assert.deepEqual(tables, [], 'migrate creates an empty organisations table')
    assert.deepEqual(await database().kysely.selectFrom('api_keys').selectAll().execute(), [])
  })

  test('org create prints the new organisation as JSON or text; bad input creates nothing', async () => {
    const missingOrg = newId()
    const [again, json, text, keyForUnknown, revokeUnknown] = await Promise.all([
      cli('migrate'),
      cli('org', 'create', '--name', 'Acme Corp', '--json'),
      cli('org', 'create', '--name', 'Text Org'),
      cli('key', 'create', '--org', missingOrg, '--json'),
      cli('key', 'revoke', newId()),
    ])
    assertOk(again, 'second migrate')
    assert.match(again.stdout, /up to date/)

    assertOk(json, 'org create --json')
    const lines = json.stdout.trim().split('\n')
    assert.equal(lines.length, 1, 'one JSON object on one line')
    const created = JSON.parse(lines[0]!) as { id: string; name: string }
    assert.match(created.id, new RegExp(`^${ULID.source}$`))
    assert.equal(created.name, 'Acme Corp')
    orgId = created.id

    assertOk(text, 'org create')
    assert.throws(() => JSON.parse(text.stdout), 'text output is not JSON')
    const textId = ULID.exec(text.stdout)?.[0]
    assert.ok(textId, `no id in ${text.stdout}`)
    assert.match(text.stdout, /Text Org/)

    assertFails(keyForUnknown, new RegExp(`${missingOrg}.*does not exist|does not exist.*${missingOrg}`), 'key create for an unknown org')
    assertFails(revokeUnknown, /does not exist/, 'revoke an unknown key')

    const orgs = await database().kysely.selectFrom('organisations').select(['id', 'name']).orderBy('name').execute()
    assert.deepEqual(orgs, [
      { id: orgId, name: 'Acme Corp' },
      { id: textId, name: 'Text Org' },
    ])
    assert.deepEqual(await database().kysely.selectFrom('api_keys').selectAll().execute(), [])
  })

  test('key create prints a working key once, stored only as a hash', async () => {
    const json = await cli('key', 'create', '--org', orgId, '--name', 'ci', '--json')
    assertOk(json, 'key create --json')
    const issued = JSON.parse(json.stdout) as { id: string; key: string; organisationId?: string; name?: string }
    assert.match(issued.id, new RegExp(`^${ULID.source}$`))
    const parsed = parseApiKey(issued.key)
    assert.ok(parsed, `not an API key: ${issued.key}`)
    assert.equal(parsed.keyId, issued.id)
    assert.equal(issued.organisationId, orgId)
    assert.equal(issued.name, 'ci')
    keyId = issued.id
    key = issued.key

    const rows = await database().kysely.selectFrom('api_keys').selectAll().orderBy('id').execute()
    assert.equal(rows.length, 1)
    const row = rows.find((r) => r.id === keyId)!
    assert.equal(row.organisation_id, orgId)
    assert.equal(row.name, 'ci')
    assert.equal(row.secret_hash, hashSecret(parsed.secret))
    assert.equal(row.revoked_at, null)
    assert.ok(!JSON.stringify(rows).includes(parsed.secret), 'the secret is stored')

    const principal = await authenticateApiKey(database(), key)
    assert.deepEqual(principal?.organisations, [orgId])
    assert.equal(await listAs(key, orgId), 200)
  })

  test('key revoke stops the key from authenticating; other keys keep working', async () => {
    const other = await issueApiKey(database(), orgId, 'other')
    const revoke = await cli('key', 'revoke', keyId)
    assertOk(revoke, 'key revoke')
    assert.ok(revoke.stdout.includes(keyId))

    assert.equal(await authenticateApiKey(database(), key), undefined)
    assert.equal(await listAs(key, orgId), 401)
    assert.equal(await listAs(other.key, orgId), 200)
    const row = await database().kysely.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirstOrThrow()
    assert.notEqual(row.revoked_at, null)
    const otherRow = await database().kysely.selectFrom('api_keys').selectAll().where('id', '=', other.id).executeTakeFirstOrThrow()
    assert.equal(otherRow.revoked_at, null)
  })

  test('key list shows every key id, name and state but never a key or its hash', async () => {
    const list = await cli('key', 'list', '--org', orgId)
    assertOk(list, 'key list')
    const rows = await database().kysely.selectFrom('api_keys').selectAll().where('organisation_id', '=', orgId).execute()
    assert.equal(rows.length, 2)
    const lines = list.stdout.trim().split('\n')
    assert.equal(lines.length, 2, list.stdout)
    for (const row of rows) {
      const line = lines.find((l) => l.includes(row.id))
      assert.ok(line, `key ${row.id} missing from ${list.stdout}`)
      assert.ok(line.includes(row.name))
      assert.match(line, row.revoked_at ? /revoked/ : /active/)
      assert.ok(!list.stdout.includes(row.secret_hash), 'the hash is printed')
    }
    assert.ok(!list.stdout.includes(key) && !list.stdout.includes(parseApiKey(key)!.secret), 'the key is printed')
    assert.doesNotMatch(list.stdout, /crk_/)
  })
})
