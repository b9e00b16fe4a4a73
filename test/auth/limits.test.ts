import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { revokeApiKey } from '../../src/auth/api-keys.repository.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { openDatabase, sqliteFileIn } from '../../src/db/database.ts'
import { migrateToLatest } from '../../src/db/migrate.ts'
import { newId } from '../../src/ids.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import { connectorBody, type TestResponse } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'
import { bearer, buildAuthApp, createSigningKey, mintToken, sessionCookie, startKeyServer, type AuthApp, type AuthOrg } from './support.ts'

/**
 * Abuse limits and credential lifecycle: per-principal rate limits, the failed-authentication
 * limit per client address (in memory and shared through Redis), expired and revoked API keys,
 * security headers, header/body/JSON-depth limits, the CLI's read-scope keys, and logs that
 * never contain a credential.
 */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const REDIS_URL = 'redis://127.0.0.1:6379'

function assertRateLimited(res: TestResponse, label: string): void {
  assert.equal(res.status, 429, `${label}: ${res.raw.body}`)
  assert.equal(res.body.code, 'rate_limited', label)
  assert.equal(typeof res.body.message, 'string')
  const retryAfter = Number(res.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${label}: Retry-After ${String(res.headers['retry-after'])}`)
}

describe('rate limit per principal', () => {
  let t: AuthApp
  let a: AuthOrg
  let b: AuthOrg
  before(async () => {
    t = await buildAuthApp({ security: { limits: { rateLimitMax: 3, rateLimitWindowMs: 2000 } } })
    a = await t.newOrg('A')
    b = await t.newOrg('B')
  })
  after(() => t?.close())

  const list = (org: AuthOrg, headers: Record<string, string> = org.auth) => t.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers })

  test('429 with Retry-After after the budget, other principals unaffected, recovery after the window', async () => {
    // Sent together so that all of them fall into one window even on a slow machine.
    const write = () => t.request({ method: 'POST', url: `/o/${a.id}/protocols/http/connectors`, headers: a.auth, payload: connectorBody() })
    const burst = await Promise.all([list(a), list(a), write(), list(a), write(), list(a)])
    const limited = burst.filter((r) => r.status === 429)
    assert.equal(limited.length, 3, `statuses ${burst.map((r) => r.status).join(',')}`)
    for (const res of limited) {
      assertRateLimited(res, 'over the budget')
      assert.ok(Number(res.headers['retry-after']) <= 2, 'Retry-After is within the window')
    }
    for (const res of burst.filter((r) => r.status !== 429)) assert.ok([200, 201].includes(res.status), res.raw.body)
    // Every counted response says where the budget stands: 2, 1, 0 left, then 0 for the refused.
    const remaining = burst.map((r) => Number(r.headers['x-ratelimit-remaining'])).sort()
    assert.deepEqual(remaining, [0, 0, 0, 0, 1, 2])
    for (const res of burst) {
      assert.equal(res.headers['x-ratelimit-limit'], '3')
      const reset = Number(res.headers['x-ratelimit-reset'])
      assert.ok(Number.isInteger(reset) && reset >= 0 && reset <= 2, `x-ratelimit-reset ${String(res.headers['x-ratelimit-reset'])}`)
    }
    // A write that was refused did nothing.
    const created = burst.filter((r) => r.status === 201).length
    assert.equal((await t.db.kysely.selectFrom('connectors').select('id').execute()).length, created)

    // Another organisation, and another key of the same organisation, have their own budgets.
    assert.equal((await list(b)).status, 200)
    const second = await t.apiKey(a.id)
    assert.equal((await list(a, second.auth)).status, 200)
    // Public routes are not limited, nor counted.
    for (let i = 0; i < 5; i++) {
      const health = await t.request({ method: 'GET', url: '/healthz' })
      assert.equal(health.status, 200)
      assert.equal(health.headers['x-ratelimit-limit'], undefined)
    }

    assertRateLimited(await list(a), 'still limited')
    const limitedAt = Date.now()
    let status = 429
    while (status === 429 && Date.now() - limitedAt < 4000) {
      await pause(100)
      status = (await list(a)).status
    }
    assert.equal(status, 200, 'recovered after the window')
  })
})

// With the API-key cache on, verified keys skip the database (and every promise): the failure
// limit must hold on that path too.
for (const apiKeyCacheTtlMs of [0, 1000]) describe(`failed authentication per client address, API-key cache ${apiKeyCacheTtlMs} ms`, () => {
  let t: AuthApp
  let a: AuthOrg
  before(async () => {
    t = await buildAuthApp({ security: { apiKeyCacheTtlMs, limits: { authFailureMax: 3, authFailureWindowMs: 1500 } } })
    a = await t.newOrg('A')
  })
  after(() => t?.close())

  const attempt = (remoteAddress: string, headers: Record<string, string>) =>
    t.request({ method: 'GET', url: `/o/${a.id}/connectors`, headers, remoteAddress })
  // Malformed, so failures cost no database round trip and all fall into one window.
  const wrong = { authorization: 'Bearer not-a-key' }

  test('successes do not count; the failure after the limit is 429, then the address recovers', async () => {
    const attacker = '203.0.113.7'
    for (let i = 0; i < 5; i++) assert.equal((await attempt(attacker, a.auth)).status, 200)
    for (let i = 0; i < 3; i++) assert.equal((await attempt(attacker, wrong)).status, 401, `failure ${i + 1}`)
    assertRateLimited(await attempt(attacker, wrong), 'after 3 failures')
    // The address is blocked for the window, even with valid credentials …
    assertRateLimited(await attempt(attacker, a.auth), 'valid key from a blocked address')
    // … while other addresses are unaffected.
    assert.equal((await attempt('203.0.113.8', a.auth)).status, 200)
    assert.equal((await attempt('203.0.113.8', wrong)).status, 401)

    await pause(1600)
    assert.equal((await attempt(attacker, a.auth)).status, 200, 'recovered')
    assert.equal((await attempt(attacker, wrong)).status, 401, 'a new failure is a 401 again')
  })
})

async function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: 6379 })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

describe('counters in Redis are shared by replicas', () => {
  let one: AuthApp
  let two: AuthApp
  let org: AuthOrg
  let available = false

  before(async () => {
    available = await redisReachable()
    if (!available) return
    const security = {
      redisUrl: REDIS_URL,
      limits: { rateLimitMax: 4, rateLimitWindowMs: 10_000, authFailureMax: 3, authFailureWindowMs: 2000 },
    }
    one = await buildAuthApp({ security })
    two = await buildAuthApp({ db: one.db, security })
    org = await one.newOrg('shared')
  })
  after(async () => {
    await two?.close()
    await one?.close()
  })

  test('the rate limit is exceeded across two instances', async (ctx) => {
    if (!available) return ctx.skip(`Redis is not reachable at ${REDIS_URL}`)
    // A fresh key is a fresh principal: its counter in Redis is new.
    const key = await one.apiKey(org.id)
    const get = (app: AuthApp, headers = key.auth) => app.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers })
    assert.equal((await get(one)).status, 200)
    assert.equal((await get(two)).status, 200)
    assert.equal((await get(one)).status, 200)
    assert.equal((await get(two)).status, 200)
    assertRateLimited(await get(one), 'fifth request, instance one')
    assertRateLimited(await get(two), 'sixth request, instance two')
    const other = await one.apiKey(org.id)
    assert.equal((await get(two, other.auth)).status, 200, 'another principal is unaffected')
  })

  test('failed authentications are counted across two instances', async (ctx) => {
    if (!available) return ctx.skip(`Redis is not reachable at ${REDIS_URL}`)
    // A random address of the benchmarking range, so no earlier run's counter applies.
    const address = `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`
    const wrong = { authorization: 'Bearer not-a-key' }
    const attempt = (app: AuthApp, headers: Record<string, string>) =>
      app.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers, remoteAddress: address })
    assert.equal((await attempt(one, wrong)).status, 401)
    assert.equal((await attempt(two, wrong)).status, 401)
    assert.equal((await attempt(one, wrong)).status, 401)
    assertRateLimited(await attempt(two, wrong), 'fourth failure on instance two')
    assertRateLimited(await attempt(one, org.auth), 'valid key from the blocked address on instance one')
  })
})

describe('an unreachable Redis blocks nobody', () => {
  let t: AuthApp
  let org: AuthOrg
  before(async () => {
    // Nothing listens on port 1: every counter command fails at once (no offline queue).
    t = await buildAuthApp({ security: { redisUrl: 'redis://127.0.0.1:1', limits: { rateLimitMax: 1, authFailureMax: 1 } } })
    org = await t.newOrg('no-redis')
  })
  after(() => t?.close())

  test('requests over both limits still go through, without rate-limit headers', async () => {
    const list = (headers: Record<string, string>) => t.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers })
    for (let i = 0; i < 3; i++) {
      const res = await list(org.auth)
      assert.equal(res.status, 200, res.raw.body)
      assert.equal(res.headers['x-ratelimit-limit'], undefined)
    }
    for (let i = 0; i < 3; i++) assert.equal((await list({ authorization: 'Bearer not-a-key' })).status, 401)
    assert.equal((await list(org.auth)).status, 200)
  })
})

describe('expired and revoked API keys', () => {
  let t: AuthApp
  let cached: AuthApp
  let org: AuthOrg
  let unknown401: string
  before(async () => {
    t = await buildAuthApp({ security: { apiKeyCacheTtlMs: 0 } })
    cached = await buildAuthApp({ db: t.db, security: { apiKeyCacheTtlMs: 1000 } })
    org = await t.newOrg('keys')
    const res = await t.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers: { authorization: `Bearer crk_${newId()}_${'C'.repeat(43)}` } })
    assert.equal(res.status, 401)
    unknown401 = res.raw.body
  })
  after(async () => {
    await cached?.close()
    await t?.close()
  })

  const get = (app: AuthApp, headers: Record<string, string>) => app.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers })

  test('an expired key is 401 exactly like an unknown one', async () => {
    const key = await t.apiKey(org.id, { expiresInMs: 1 })
    await pause(5)
    for (const app of [t, cached]) {
      const res = await get(app, key.auth)
      assert.equal(res.status, 401)
      assert.equal(res.raw.body, unknown401)
    }
  })

  test('a key that expires while cached stops working at its expiry', async () => {
    const key = await t.apiKey(org.id, { expiresInMs: 400 })
    assert.equal((await get(cached, key.auth)).status, 200)
    await pause(450)
    const res = await get(cached, key.auth)
    assert.equal(res.status, 401)
    assert.equal(res.raw.body, unknown401)
  })

  test('without a cache, a revoked key is 401 on the next request', async () => {
    const key = await t.apiKey(org.id)
    assert.equal((await get(t, key.auth)).status, 200)
    assert.equal(await revokeApiKey(t.db, key.id), true)
    const res = await get(t, key.auth)
    assert.equal(res.status, 401)
    assert.equal(res.raw.body, unknown401)
  })

  test('with a 1 s cache, a revoked key is 401 within 1.5 s', async () => {
    const key = await t.apiKey(org.id)
    assert.equal((await get(cached, key.auth)).status, 200)
    assert.equal(await revokeApiKey(t.db, key.id), true)
    const revokedAt = Date.now()
    let status = 200
    while (status === 200 && Date.now() - revokedAt < 3000) {
      status = (await get(cached, key.auth)).status
      if (status === 200) await pause(50)
    }
    const elapsed = Date.now() - revokedAt
    assert.equal(status, 401)
    assert.ok(elapsed <= 1500, `revocation took ${elapsed} ms`)
  })

  test('the cache TTL cannot be configured above 5 s', () => {
    assert.equal(loadConfig({}).apiKeyCacheTtlMs <= 5000, true)
    assert.equal(loadConfig({ API_KEY_CACHE_TTL_MS: '5000' }).apiKeyCacheTtlMs, 5000)
    assert.throws(() => loadConfig({ API_KEY_CACHE_TTL_MS: '5001' }), ConfigError)
  })
})

describe('HTTP hardening', () => {
  let t: AuthApp
  let org: AuthOrg
  before(async () => {
    t = await buildAuthApp({ security: { limits: { maxJsonDepth: 8, bodyLimitBytes: 4096 } } })
    org = await t.newOrg('hardening')
  })
  after(() => t?.close())

  test('security headers on success and error responses; no x-powered-by', async () => {
    const responses = [
      await t.request({ method: 'GET', url: '/healthz' }),
      await t.request({ method: 'GET', url: `/o/${org.id}/connectors`, headers: org.auth }),
      await t.request({ method: 'GET', url: `/o/${org.id}/connectors` }),
      await t.request({ method: 'GET', url: `/o/${org.id}/connectors/${newId()}`, headers: org.auth }),
      await t.request({ method: 'GET', url: '/no/such/route' }),
    ]
    for (const res of responses) {
      const label = `${res.status} ${res.raw.body.slice(0, 60)}`
      // JSON is never a document: it may load nothing and be framed by nothing.
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", label)
      assert.equal(res.headers['x-frame-options'], 'DENY', label)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', label)
      assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, label)
      assert.equal(res.headers['referrer-policy'], 'no-referrer', label)
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-site', label)
      assert.equal(res.headers['x-powered-by'], undefined, label)
      // Headers that govern HTML documents are left to the docs UI.
      assert.equal(res.headers['cross-origin-opener-policy'], undefined, label)
    }
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 401, 404, 404],
    )
  })

  test('the docs UI gets the CSP its own assets need, and the document headers', async () => {
    for (const url of ['/docs', '/docs/', '/docs/json']) {
      const res = await t.request({ method: 'GET', url })
      assert.ok(res.status === 200 || res.status === 302, `${url}: ${res.status}`)
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/, url)
      assert.match(String(res.headers['content-security-policy']), /img-src 'self' data: validator\.swagger\.io/, url)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url)
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-site', url)
    }
    // A path that only begins like the docs is an API 404 with the API's headers.
    const lookalike = await t.request({ method: 'GET', url: '/docsx' })
    assert.equal(lookalike.status, 404)
    assert.equal(lookalike.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'")
  })

  test('JSON nested deeper than maxJsonDepth is 400 before validation; absurd nesting too', async () => {
    const nest = (depth: number): unknown => (depth <= 1 ? {} : { a: nest(depth - 1) })
    const post = (payload: string) =>
      t.request({
        method: 'POST',
        url: `/o/${org.id}/protocols/http/connectors`,
        headers: { ...org.auth, 'content-type': 'application/json' },
        payload,
      })
    const tooDeep = await post(JSON.stringify(nest(9)))
    assert.equal(tooDeep.status, 400, tooDeep.raw.body)
    assert.equal(tooDeep.body.code, 'validation_failed')
    assert.match(tooDeep.body.message, /nest at most 8/)
    const atLimit = await post(JSON.stringify(nest(8)))
    assert.equal(atLimit.status, 400)
    assert.doesNotMatch(atLimit.body.message, /nest/, 'depth 8 is allowed (it fails schema validation instead)')
    const absurd = await post(`${'['.repeat(2000)}${']'.repeat(2000)}`)
    assert.equal(absurd.status, 400, absurd.raw.body)
    assert.deepEqual(await t.db.kysely.selectFrom('connectors').select('id').execute(), [])
  })

  test('bodies over the limit are 413 with the envelope; first is capped at 100', async () => {
    const big = await t.request({
      method: 'POST',
      url: `/o/${org.id}/protocols/http/connectors`,
      headers: org.auth,
      payload: connectorBody({ description: 'x'.repeat(5000) }),
    })
    assert.equal(big.status, 413, big.raw.body)
    assert.equal(big.body.code, 'payload_too_large')
    const first = await t.request({ method: 'GET', url: `/o/${org.id}/connectors?first=101`, headers: org.auth })
    assert.equal(first.status, 400)
  })

  test('headers over 16 KiB are 431 with the envelope; timeouts are set on the server', async () => {
    const app = await buildAuthApp({ db: t.db })
    try {
      await app.app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = app.app.server.address() as net.AddressInfo
      const exchange = (extraHeader: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port })
          let received = ''
          socket.setEncoding('utf8')
          socket.on('data', (chunk: string) => {
            received += chunk
          })
          socket.on('end', () => resolve(received))
          socket.on('error', reject)
          socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
          socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extraHeader}\r\n\r\n`)
        })
      const small = await exchange(`X-Padding: ${'a'.repeat(8 * 1024)}`)
      assert.match(small, /^HTTP\/1\.1 200 /)
      const large = await exchange(`X-Padding: ${'a'.repeat(17 * 1024)}`)
      assert.match(large, /^HTTP\/1\.1 431 /)
      const [head, body] = large.split('\r\n\r\n') as [string, string]
      assert.match(head, /content-type: application\/json/i)
      assert.deepEqual(JSON.parse(body), { code: 'request_header_too_large', message: 'The request headers are too large.' })

      const server = app.app.server
      assert.equal(server.requestTimeout, 30_000)
      assert.equal(server.headersTimeout, 10_000)
      assert.equal(server.keepAliveTimeout, 5_000)
    } finally {
      await app.close()
    }
  })
})

describe('CLI: key create --scope read', () => {
  const cli = (args: string[], dataDir: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' }
      delete env.DATABASE_URL
      delete env.TEST_DIALECT
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: path.resolve(import.meta.dirname, '../..'), env })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c: Buffer) => (stdout += String(c)))
      child.stderr.on('data', (c: Buffer) => (stderr += String(c)))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })

  test('a read key from the CLI reads and gets 403 on writes; --expires-in sets the expiry', async (ctx) => {
    if (testDialect !== 'sqlite') return ctx.skip('the CLI test runs on SQLite only (DATA_DIR); covered by the SQLite pass')
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-cli-auth-'))
    try {
      // The organisation is created in-process (one CLI start less); the key by the CLI.
      const setup = openDatabase({ sqliteFile: sqliteFileIn(dataDir) })
      await migrateToLatest(setup)
      const orgId = (await insertOrganisation(setup, 'cli org')).id
      await setup.close()
      const keyOut = await cli(['key', 'create', '--org', orgId, '--scope', 'read', '--expires-in', '30d', '--json'], dataDir)
      assert.equal(keyOut.code, 0, keyOut.stderr)
      const issued = JSON.parse(keyOut.stdout) as { key: string; scope: string; expiresAt: string }
      assert.equal(issued.scope, 'read')
      assert.match(issued.key, /^crk_[0-9A-HJKMNP-TV-Z]{26}_[A-Za-z0-9_-]{43}$/)
      const expiresIn = Date.parse(issued.expiresAt) - Date.now()
      assert.ok(Math.abs(expiresIn - 30 * 86_400_000) < 120_000, `expires in ${expiresIn} ms`)

      const db = openDatabase({ sqliteFile: sqliteFileIn(dataDir) })
      const app = await buildAuthApp({ db })
      try {
        const read = await app.request({ method: 'GET', url: `/o/${orgId}/connectors`, headers: bearer(issued.key) })
        assert.equal(read.status, 200, read.raw.body)
        const write = await app.request({ method: 'POST', url: `/o/${orgId}/protocols/http/connectors`, headers: bearer(issued.key), payload: connectorBody() })
        assert.equal(write.status, 403, write.raw.body)
        assert.equal(write.body.code, 'forbidden')
        assert.deepEqual(await db.kysely.selectFrom('connectors').select('id').execute(), [])
      } finally {
        await app.close()
        await db.close()
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('logs never contain credentials', () => {
  test('API keys, JWTs and cookies are absent from every log line; the principal is on the request line', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...String(chunk).split('\n').filter(Boolean))
        callback()
      },
    })
    const key = await createSigningKey('ES256')
    const idp = await startKeyServer([key])
    const t = await buildAuthApp({
      jwks: idp,
      logger: { level: 'trace', stream },
      security: { allowedOrigins: ['https://console.example.com'] },
    })
    try {
      const org = await t.newOrg('logged')
      const jwt = await mintToken(key, [org.id], { claims: { sub: 'log-user' } })
      const badJwt = await mintToken(key, [org.id], { claims: { aud: 'someone-else' } })
      const secret = org.key.slice(`crk_${org.keyId}_`.length)
      assert.equal(secret.length, 43)
      const wrongSecretKey = `crk_${org.keyId}_${'Z'.repeat(43)}`
      const list = `/o/${org.id}/connectors`
      const results = [
        await t.request({ method: 'GET', url: list, headers: org.auth }),
        await t.request({ method: 'POST', url: `/o/${org.id}/protocols/http/connectors`, headers: org.auth, payload: connectorBody() }),
        await t.request({ method: 'GET', url: list, headers: { authorization: `Bearer ${wrongSecretKey}` } }),
        await t.request({ method: 'GET', url: list, headers: bearer(jwt) }),
        await t.request({ method: 'GET', url: list, headers: bearer(badJwt) }),
        await t.request({ method: 'GET', url: list, headers: bearer(`${jwt}x`) }),
        await t.request({ method: 'GET', url: list, headers: sessionCookie(jwt) }),
        await t.request({ method: 'POST', url: `/o/${org.id}/protocols/http/connectors`, headers: sessionCookie(jwt), payload: connectorBody() }),
        await t.request({ method: 'GET', url: `/o/${newId()}/connectors`, headers: org.auth }),
        await t.request({
          method: 'POST',
          url: `/o/${org.id}/protocols/http/connectors`,
          headers: { ...org.auth, 'content-type': 'application/json' },
          payload: '{"broken',
        }),
      ]
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 201, 401, 200, 401, 401, 200, 403, 403, 400],
      )
      assert.ok(lines.length >= 20, `only ${lines.length} log lines`)
      const secrets = {
        'API key': org.key,
        'API key secret': secret,
        'wrong API key': wrongSecretKey,
        JWT: jwt,
        'JWT signature': jwt.split('.')[2]!,
        'JWT payload': jwt.split('.')[1]!,
        'rejected JWT': badJwt,
        'rejected JWT signature': badJwt.split('.')[2]!,
      }
      for (const line of lines) {
        for (const [what, value] of Object.entries(secrets)) assert.ok(!line.includes(value), `${what} in log line: ${line}`)
        assert.doesNotMatch(line, /authorization|cookie/i, `credential header in log line: ${line}`)
      }

      // Who acted is on the "request completed" line: the API key id, or jwt:<sub>.
      const completed = lines.map((l) => JSON.parse(l) as { msg?: string; principal?: string; res?: { statusCode: number } }).filter((l) => l.msg === 'request completed')
      assert.equal(completed.length, results.length)
      assert.deepEqual(
        completed.map((l) => l.principal ?? null),
        [org.keyId, org.keyId, null, 'jwt:log-user', null, null, 'jwt:log-user', null, org.keyId, org.keyId],
      )
    } finally {
      await t.close()
      await idp.stop()
    }
  })
})
