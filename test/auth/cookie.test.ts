import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connectorBody, type TestResponse } from '../helpers/app.ts'
import {
  bearer,
  buildAuthApp,
  createSigningKey,
  mintToken,
  sessionCookie,
  startKeyServer,
  type AuthApp,
  type AuthOrg,
  type KeyServer,
  type SigningKey,
} from './support.ts'

/**
 * The session cookie carries the same JWT as a Bearer token. Unsafe methods with cookie
 * authentication need an Origin from ALLOWED_ORIGINS; a Bearer credential always wins.
 */
const ALLOWED = 'https://console.example.com'
const ALSO_ALLOWED = 'http://localhost:5173'

let idp: KeyServer
let t: AuthApp
let key: SigningKey
let orgA: AuthOrg
let orgB: AuthOrg
let tokenA: string
let anonymous401: string

before(async () => {
  key = await createSigningKey('ES256')
  idp = await startKeyServer([key])
  t = await buildAuthApp({ jwks: idp, security: { allowedOrigins: [ALLOWED, ALSO_ALLOWED] } })
  orgA = await t.newOrg('A')
  orgB = await t.newOrg('B')
  tokenA = await mintToken(key, [orgA.id], { claims: { sub: 'alice' } })
  const anon = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors` })
  assert.equal(anon.status, 401)
  anonymous401 = anon.raw.body
})

after(async () => {
  await t?.close()
  await idp?.stop()
})

async function connectorCount(organisationId: string): Promise<number> {
  const rows = await t.db.kysely.selectFrom('connectors').select('id').where('organisation_id', '=', organisationId).execute()
  return rows.length
}

function create(headers: Record<string, string>, org: AuthOrg = orgA, app: AuthApp = t): Promise<TestResponse> {
  return app.request({ method: 'POST', url: `/o/${org.id}/protocols/http/connectors`, headers, payload: connectorBody() })
}

function assertOriginRefused(res: TestResponse, label: string): void {
  assert.equal(res.status, 403, `${label}: ${res.raw.body}`)
  assert.equal(res.body.code, 'forbidden', label)
  assert.match(res.body.message, /Origin/, label)
}

describe('reads with the cookie', () => {
  test('GET works without an Origin, and with any Origin (reads are safe)', async () => {
    for (const origin of [undefined, ALLOWED, 'https://evil.example.com']) {
      const res = await t.request({
        method: 'GET',
        url: `/o/${orgA.id}/connectors`,
        headers: { ...sessionCookie(tokenA), ...(origin ? { origin } : {}) },
      })
      assert.equal(res.status, 200, `origin ${origin}: ${res.raw.body}`)
    }
  })

  test('the cookie is bound to its organisations: 403 on another organisation', async () => {
    const res = await t.request({ method: 'GET', url: `/o/${orgB.id}/connectors`, headers: sessionCookie(tokenA) })
    assert.equal(res.status, 403)
    assert.equal(res.body.code, 'forbidden')
  })

  test('an invalid, expired or empty cookie is the anonymous 401', async () => {
    const expired = await mintToken(key, [orgA.id], { claims: { iat: 1, exp: 1000 } })
    for (const value of ['garbage', `${tokenA}x`, expired, '', 'a.b.c']) {
      const res = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: { cookie: `session=${value}` } })
      assert.equal(res.status, 401, `cookie ${JSON.stringify(value.slice(0, 20))}`)
      assert.equal(res.raw.body, anonymous401)
    }
  })

  test('an API key in the cookie is not a credential', async () => {
    const res = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: sessionCookie(orgA.key) })
    assert.equal(res.status, 401)
    assert.equal(res.raw.body, anonymous401)
  })

  test('a cookie with another name is ignored', async () => {
    const res = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: sessionCookie(tokenA, 'sid') })
    assert.equal(res.status, 401)
  })
})

describe('writes with the cookie', () => {
  test('POST without an Origin → 403, nothing created', async () => {
    assertOriginRefused(await create(sessionCookie(tokenA)), 'no Origin')
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test('POST with a foreign or almost-allowed Origin → 403, nothing created', async () => {
    for (const origin of [
      'https://evil.example.com',
      'null',
      `${ALLOWED}/`,
      `${ALLOWED}:443`,
      ALLOWED.toUpperCase(),
      ALLOWED.replace('https:', 'http:'),
      `${ALLOWED}.evil.example.com`,
      'https://sub.console.example.com',
      '',
    ]) {
      assertOriginRefused(await create({ ...sessionCookie(tokenA), origin }), `origin ${JSON.stringify(origin)}`)
    }
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test('Referer is not a substitute for Origin', async () => {
    assertOriginRefused(await create({ ...sessionCookie(tokenA), referer: `${ALLOWED}/connectors` }), 'referer only')
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test('POST, PUT and DELETE with an allowed Origin succeed', async () => {
    const created = await create({ ...sessionCookie(tokenA), origin: ALLOWED })
    assert.equal(created.status, 201, created.raw.body)
    const id = created.body.id as string
    const url = `/o/${orgA.id}/connectors/${id}`
    const update = {
      id,
      organisationId: orgA.id,
      name: 'renamed by cookie',
      protocol: 'http',
      baseUrl: 'https://api.example.com',
    }

    // PUT and DELETE are refused without an allowed Origin and change nothing …
    assertOriginRefused(await t.request({ method: 'PUT', url, headers: sessionCookie(tokenA), payload: update }), 'PUT without Origin')
    assertOriginRefused(
      await t.request({ method: 'PUT', url, headers: { ...sessionCookie(tokenA), origin: 'https://evil.example.com' }, payload: update }),
      'PUT foreign Origin',
    )
    assertOriginRefused(await t.request({ method: 'DELETE', url, headers: sessionCookie(tokenA) }), 'DELETE without Origin')
    assertOriginRefused(
      await t.request({ method: 'PUT', url: `${url}/tags`, headers: sessionCookie(tokenA), payload: { tags: { a: [] } } }),
      'PUT tags without Origin',
    )
    assertOriginRefused(
      await t.request({ method: 'POST', url: `${url}/versions`, headers: sessionCookie(tokenA), payload: { name: 'v1' } }),
      'POST version without Origin',
    )
    const row = await t.db.kysely.selectFrom('connectors').select('name').where('id', '=', id).executeTakeFirstOrThrow()
    assert.equal(row.name, 'Example API')
    assert.deepEqual(await t.db.kysely.selectFrom('connector_versions').select('id').where('connector_id', '=', id).execute(), [])

    // … and succeed with one.
    const put = await t.request({ method: 'PUT', url, headers: { ...sessionCookie(tokenA), origin: ALSO_ALLOWED }, payload: update })
    assert.equal(put.status, 200, put.raw.body)
    assert.equal(put.body.name, 'renamed by cookie')
    const version = await t.request({ method: 'POST', url: `${url}/versions`, headers: { ...sessionCookie(tokenA), origin: ALLOWED }, payload: { name: 'v1' } })
    assert.equal(version.status, 201, version.raw.body)
    const del = await t.request({ method: 'DELETE', url: `${url}?force=true`, headers: { ...sessionCookie(tokenA), origin: ALLOWED } })
    assert.equal(del.status, 204, del.raw.body)
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test('with an allowed Origin the organisation check still applies (403 on B)', async () => {
    const res = await create({ ...sessionCookie(tokenA), origin: ALLOWED }, orgB)
    assert.equal(res.status, 403)
    assert.equal(res.body.code, 'forbidden')
    assert.equal(await connectorCount(orgB.id), 0)
  })

  test('the same JWT as a Bearer token needs no Origin', async () => {
    const res = await create(bearer(tokenA))
    assert.equal(res.status, 201, res.raw.body)
    await t.db.kysely.deleteFrom('connectors').where('id', '=', res.body.id).execute()
  })

  test('SESSION_COOKIE renames the cookie; without ALLOWED_ORIGINS every cookie write is refused', async () => {
    const custom = await buildAuthApp({ db: t.db, jwks: idp, security: { sessionCookie: 'crsid' } })
    try {
      const read = await custom.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: sessionCookie(tokenA, 'crsid') })
      assert.equal(read.status, 200)
      const wrongName = await custom.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: sessionCookie(tokenA) })
      assert.equal(wrongName.status, 401)
      assertOriginRefused(await create({ ...sessionCookie(tokenA, 'crsid'), origin: ALLOWED }, orgA, custom), 'no allowed origins configured')
      assert.equal(await connectorCount(orgA.id), 0)
    } finally {
      await custom.close()
    }
  })
})

describe('Bearer and cookie together: the Bearer credential is used', () => {
  test("B's API key with A's cookie on A's path → 403 (the key decides)", async () => {
    for (const method of ['GET', 'POST'] as const) {
      const headers = { ...orgB.auth, ...sessionCookie(tokenA), origin: ALLOWED }
      const res =
        method === 'GET'
          ? await t.request({ method, url: `/o/${orgA.id}/connectors`, headers })
          : await create(headers)
      assert.equal(res.status, 403, `${method}: ${res.raw.body}`)
      assert.equal(res.body.code, 'forbidden')
    }
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test("A's API key with A's cookie and no Origin can write (no cookie rules for Bearer requests)", async () => {
    const res = await create({ ...orgA.auth, ...sessionCookie(tokenA) })
    assert.equal(res.status, 201, res.raw.body)
    await t.db.kysely.deleteFrom('connectors').where('id', '=', res.body.id).execute()
  })

  test('an invalid Bearer with a valid cookie → the anonymous 401', async () => {
    const invalid = [`Bearer crk_${'0'.repeat(26)}_${'A'.repeat(43)}`, 'Bearer garbage', `Bearer ${tokenA}x`, 'Bearer ', 'Basic dXNlcjpwYXNz']
    for (const authorization of invalid) {
      for (const method of ['GET', 'POST'] as const) {
        const headers = { authorization, ...sessionCookie(tokenA), origin: ALLOWED }
        const res = method === 'GET' ? await t.request({ method, url: `/o/${orgA.id}/connectors`, headers }) : await create(headers)
        assert.equal(res.status, 401, `${authorization} ${method}`)
        assert.equal(res.raw.body, anonymous401)
      }
    }
    assert.equal(await connectorCount(orgA.id), 0)
  })

  test("a JWT Bearer for B with A's cookie on A's path → 403", async () => {
    const tokenB = await mintToken(key, [orgB.id], { claims: { sub: 'bob' } })
    const res = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers: { ...bearer(tokenB), ...sessionCookie(tokenA) } })
    assert.equal(res.status, 403)
  })
})
