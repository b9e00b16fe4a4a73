import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppOptions } from '../../src/app.ts'
import { issueApiKey } from '../../src/auth/api-keys.service.ts'
import type { Db } from '../../src/db/database.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import { ContractChecker, referenceChecker } from './contract.ts'
import { createTestDatabase } from './database.ts'

/**
 * The real application on a fresh database (per test file), with one organisation and API
 * key ready. Every response that passes through `request` is checked against the project's
 * OpenAPI document and, when present, the reference contract.
 */
export interface TestOrg {
  id: string
  key: string
  keyId: string
  /** Authorization header for this organisation's key. */
  auth: { authorization: string }
}

export interface TestResponse {
  status: number
  headers: LightMyRequestResponse['headers']
  /** Parsed JSON body (decoded first when gzip), or undefined for an empty one. */
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any
  raw: LightMyRequestResponse
}

export interface TestApp {
  app: FastifyInstance
  db: Db
  org: TestOrg
  /** Creates another organisation with its own key. */
  newOrg(name?: string): Promise<TestOrg>
  /** Injects a request; JSON bodies are serialised; the response is contract-checked. */
  request(options: InjectOptions & { as?: TestOrg | null }): Promise<TestResponse>
  close(): Promise<void>
}

const OPERATION_HEADER = 'x-test-operation'

export async function buildTestApp(options: Pick<AppOptions, 'bodyLimitBytes' | 'representationCacheBytes'> = {}): Promise<TestApp> {
  const { db, drop } = await createTestDatabase()
  const app = await buildApp({ db, ...options })
  // Tells the contract check which operation answered (test-only; added after build).
  app.addHook('onSend', async (request, reply, payload) => {
    const operationId = (request.routeOptions.schema as { operationId?: string } | undefined)?.operationId
    if (operationId) reply.header(OPERATION_HEADER, operationId)
    return payload
  })
  await app.ready()
  const own = new ContractChecker(app.swagger() as never, 'own.json')
  const reference = referenceChecker()

  const newOrg = async (name = 'test org'): Promise<TestOrg> => {
    const organisation = await insertOrganisation(db, name)
    const issued = await issueApiKey(db, organisation.id, 'test')
    return { id: organisation.id, key: issued.key, keyId: issued.id, auth: { authorization: `Bearer ${issued.key}` } }
  }
  const org = await newOrg('primary')

  const request: TestApp['request'] = async ({ as, headers, ...rest }) => {
    const principal = as === undefined ? org : as
    const injectOptions: InjectOptions = {
      ...rest,
      headers: { ...(principal ? principal.auth : {}), ...(headers ?? {}) },
    }
    if (rest.payload !== undefined && typeof rest.payload === 'object' && !Buffer.isBuffer(rest.payload)) {
      injectOptions.payload = JSON.stringify(rest.payload)
      injectOptions.headers = { 'content-type': 'application/json', ...injectOptions.headers }
    }
    const raw = await app.inject(injectOptions)
    // gzip bodies are checked like the others, once decoded (and decoding checks their CRC and size).
    const text = raw.headers['content-encoding'] === 'gzip' ? gunzipSync(raw.rawPayload).toString() : raw.body
    let body: unknown
    if (text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    const operationId = raw.headers[OPERATION_HEADER]
    if (raw.statusCode >= 500) assert.fail(`server error ${raw.statusCode} for ${rest.method ?? 'GET'} ${String(rest.url)}: ${text}`)
    if (typeof operationId === 'string' && body !== undefined && typeof body === 'object') {
      const problems = own.check(operationId, raw.statusCode, body)
      assert.deepEqual(problems, [], `${operationId} ${raw.statusCode} response violates the project's OpenAPI document`)
      if (reference?.hasOperation(operationId)) {
        const refProblems = reference.check(operationId, raw.statusCode, body, true)
        assert.deepEqual(refProblems, [], `${operationId} ${raw.statusCode} response violates the reference contract`)
      }
    }
    if (raw.statusCode >= 400 && typeof body === 'object' && body !== null) {
      // Every error uses the envelope, never leaks a stack or SQL.
      assert.equal(typeof (body as { code?: unknown }).code, 'string', `error without code: ${text}`)
      assert.equal(typeof (body as { message?: unknown }).message, 'string')
      assert.doesNotMatch(text, /\bat .+\(.+:\d+:\d+\)|select |insert into|SQLITE_|violates/i)
    }
    return { status: raw.statusCode, headers: raw.headers, body, raw }
  }

  return {
    app,
    db,
    org,
    newOrg,
    request,
    async close() {
      await app.close()
      await drop()
    },
  }
}

/** Shorthands used across test files. */
export function connectorBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Example API',
    baseUrl: 'https://api.example.com',
    authSchemeConfigs: [{ id: '01J9ZQ0000000000000000KEY1', description: 'API key', schemeType: 'api-key', name: 'X-API-Key', in: 'header' }],
    ...overrides,
  }
}

export async function createConnector(t: TestApp, overrides: Record<string, unknown> = {}, as?: TestOrg): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const org = as ?? t.org
  const res = await t.request({ method: 'POST', url: `/o/${org.id}/protocols/http/connectors`, payload: connectorBody(overrides), as: org })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

export async function createVersion(t: TestApp, connectorId: string, name: string, extra: Record<string, unknown> = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connectorId}/versions`, payload: { name, ...extra } })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

export async function publish(t: TestApp, connectorId: string, version: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connectorId}/versions/${encodeURIComponent(version)}/publish` })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.version
}
