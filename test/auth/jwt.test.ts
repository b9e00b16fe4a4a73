import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { exportSPKI } from 'jose'
import { newId } from '../../src/ids.ts'
import { connectorBody, type TestResponse } from '../helpers/app.ts'
import {
  AUDIENCE,
  b64,
  bearer,
  buildAuthApp,
  createSigningKey,
  defaultClaims,
  ISSUER,
  mintToken,
  signHmac,
  signRaw,
  startKeyServer,
  type AuthApp,
  type AuthOrg,
  type KeyServer,
  type SigningKey,
} from './support.ts'

/**
 * Internal consumers' JWTs: a corpus of tampered and invalid tokens that must all get the one
 * 401 an anonymous request gets, the valid shapes that must work, key rotation against a local
 * JWKS server, and the IdP going down.
 */
let idp: KeyServer
let attacker: KeyServer
let t: AuthApp
let rsa: SigningKey
let es: SigningKey
let ed: SigningKey
let rs384: SigningKey
let unpublished: SigningKey
let attackerKey: SigningKey
let orgA: AuthOrg
let orgB: AuthOrg
/** The exact 401 body (and WWW-Authenticate) for a request without credentials. */
let anonymous: { body: string; wwwAuthenticate: unknown }

const now = (): number => Math.floor(Date.now() / 1000)

before(async () => {
  ;[rsa, es, ed, rs384, unpublished, attackerKey] = await Promise.all([
    createSigningKey('RS256'),
    createSigningKey('ES256'),
    createSigningKey('EdDSA'),
    createSigningKey('RS384'),
    createSigningKey('RS256'),
    createSigningKey('RS256'),
  ])
  idp = await startKeyServer([rsa, es, ed, rs384])
  attacker = await startKeyServer([attackerKey])
  t = await buildAuthApp({ jwks: idp })
  orgA = await t.newOrg('A')
  orgB = await t.newOrg('B')
  const res = await t.request({ method: 'GET', url: `/o/${orgA.id}/connectors` })
  assert.equal(res.status, 401)
  assert.equal(res.body.code, 'unauthenticated')
  anonymous = { body: res.raw.body, wwwAuthenticate: res.headers['www-authenticate'] }
})

after(async () => {
  await t?.close()
  await idp?.stop()
  await attacker?.stop()
})

function listA(headers: Record<string, string>, app: AuthApp = t): Promise<TestResponse> {
  return app.request({ method: 'GET', url: `/o/${orgA.id}/connectors`, headers })
}

function assertAnonymous401(res: TestResponse, label: string): void {
  assert.equal(res.status, 401, `${label}: ${res.raw.body}`)
  assert.equal(res.raw.body, anonymous.body, `${label}: the 401 body differs from the one for a missing credential`)
  assert.equal(res.headers['www-authenticate'], anonymous.wwwAuthenticate, `${label}: WWW-Authenticate differs`)
}

function segments(token: string): [string, string, string] {
  const parts = token.split('.')
  assert.equal(parts.length, 3)
  return parts as [string, string, string]
}

function decodeJson(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** A token signed by `rsa` (published in the JWKS) for org A, otherwise valid. */
const valid = (options: Parameters<typeof mintToken>[2] = {}) => mintToken(rsa, [orgA.id], options)

function noneToken(alg: string, signature: string): Promise<string> {
  return valid().then((token) => {
    const [, payload, realSignature] = segments(token)
    const header = b64(JSON.stringify({ alg, typ: 'JWT', kid: rsa.kid }))
    return `${header}.${payload}.${signature === 'original' ? realSignature : signature}`
  })
}

type Case = { name: string; authorization: () => Promise<string> }
const jwt = (name: string, token: () => Promise<string>): Case => ({ name, authorization: async () => `Bearer ${await token()}` })

const corpus: Case[] = [
  // alg "none" in any spelling, with or without a signature
  jwt('alg none, empty signature', () => noneToken('none', '')),
  jwt('alg None, empty signature', () => noneToken('None', '')),
  jwt('alg NONE, empty signature', () => noneToken('NONE', '')),
  jwt('alg nOnE, empty signature', () => noneToken('nOnE', '')),
  jwt('alg none with the original RS256 signature', () => noneToken('none', 'original')),
  jwt('alg None with a garbage signature', () => noneToken('None', 'c2lnbmF0dXJl')),
  jwt('alg none without a kid', async () => `${b64('{"alg":"none"}')}.${segments(await valid())[1]}.`),
  // HMAC, including algorithm confusion with the IdP's public key as the secret
  jwt('HS256 with a random secret', () => signHmac('HS256', randomBytes(32), { kid: rsa.kid }, defaultClaims([orgA.id]))),
  jwt('HS256 keyed with the public key PEM (algorithm confusion)', async () =>
    signHmac('HS256', new TextEncoder().encode(await exportSPKI(rsa.publicKey)), { kid: rsa.kid }, defaultClaims([orgA.id])),
  ),
  jwt('HS256 keyed with the public JWK JSON (algorithm confusion)', () =>
    signHmac('HS256', new TextEncoder().encode(JSON.stringify(rsa.publicJwk)), { kid: rsa.kid }, defaultClaims([orgA.id])),
  ),
  jwt('HS512 keyed with the RSA modulus bytes', () =>
    signHmac('HS512', Buffer.from(String(rsa.publicJwk.n), 'base64url'), { kid: rsa.kid }, defaultClaims([orgA.id])),
  ),
  jwt('HS256 keyed with the EC public JWK JSON', () =>
    signHmac('HS256', new TextEncoder().encode(JSON.stringify(es.publicJwk)), { kid: es.kid }, defaultClaims([orgA.id])),
  ),
  // signature and integrity
  jwt('one signature byte flipped', async () => {
    const [h, p, s] = segments(await valid())
    const sig = Buffer.from(s, 'base64url')
    sig[10] = sig[10]! ^ 0x01
    return `${h}.${p}.${b64(sig)}`
  }),
  jwt('signature removed', async () => {
    const [h, p] = segments(await valid())
    return `${h}.${p}.`
  }),
  jwt('payload edited after signing (organisations → *)', async () => {
    const [h, p, s] = segments(await valid())
    return `${h}.${b64(JSON.stringify({ ...decodeJson(p), organisations: '*' }))}.${s}`
  }),
  jwt('payload edited after signing (exp extended)', async () => {
    const [h, p, s] = segments(await valid({ claims: { exp: now() - 3600 } }))
    return `${h}.${b64(JSON.stringify({ ...decodeJson(p), exp: now() + 3600 }))}.${s}`
  }),
  jwt('header edited after signing', async () => {
    const [h, p, s] = segments(await valid())
    return `${b64(JSON.stringify({ ...decodeJson(h), typ: 'at+jwt' }))}.${p}.${s}`
  }),
  jwt('signature of another valid token', async () => {
    const [h, p] = segments(await valid({ claims: { sub: 'user-2' } }))
    const [, , s] = segments(await valid())
    return `${h}.${p}.${s}`
  }),
  jwt("signed by the attacker's key under a published kid", () => signRaw(attackerKey, { alg: 'RS256', kid: rsa.kid }, defaultClaims([orgA.id]))),
  jwt('RSA signature under the kid of the EC key', () => signRaw(rsa, { alg: 'RS256', kid: es.kid }, defaultClaims([orgA.id]))),
  jwt('header says ES256, RSA kid and RSA signature', () => signRaw(rsa, { alg: 'ES256', kid: rsa.kid }, defaultClaims([orgA.id]))),
  // registered claims
  jwt('wrong iss', () => valid({ claims: { iss: 'https://evil.example/' } })),
  jwt('iss differing only by the trailing slash', () => valid({ claims: { iss: ISSUER.replace(/\/$/, '') } })),
  jwt('missing iss', () => valid({ claims: { iss: undefined } })),
  jwt('wrong aud', () => valid({ claims: { aud: 'another-service' } })),
  jwt('aud array without our audience', () => valid({ claims: { aud: ['another-service', `${AUDIENCE}-x`] } })),
  jwt('missing aud', () => valid({ claims: { aud: undefined } })),
  jwt('expired beyond the 30 s tolerance', () => valid({ claims: { iat: now() - 600, exp: now() - 45 } })),
  jwt('expired long ago', () => valid({ claims: { iat: now() - 86400, exp: now() - 86000 } })),
  jwt('nbf in the future beyond the tolerance', () => valid({ claims: { nbf: now() + 120 } })),
  jwt('no exp', () => valid({ claims: { exp: undefined } })),
  jwt('exp as a string', () => valid({ claims: { exp: String(now() + 300) } })),
  jwt('iat as a string', () => valid({ claims: { iat: 'yesterday' } })),
  jwt('no sub', () => valid({ claims: { sub: undefined } })),
  jwt('empty sub', () => valid({ claims: { sub: '' } })),
  // keys
  jwt('unknown kid', () => valid({ header: { kid: 'no-such-kid' } })),
  jwt('kid of a key that is not (or no longer) published', () => mintToken(unpublished, [orgA.id])),
  jwt('alg outside the allow-list (RS384, published key)', () => mintToken(rs384, [orgA.id])),
  jwt('jku pointing at an attacker JWKS (signed by its key)', () =>
    signRaw(attackerKey, { alg: 'RS256', kid: attackerKey.kid, jku: attacker.url }, defaultClaims([orgA.id])),
  ),
  jwt('jku header on an otherwise valid token', () => valid({ header: { jku: attacker.url } })),
  jwt('x5u pointing at an attacker server', () =>
    signRaw(attackerKey, { alg: 'RS256', kid: attackerKey.kid, x5u: `${attacker.url}?cert` }, defaultClaims([orgA.id])),
  ),
  jwt('x5u header on an otherwise valid token', () => valid({ header: { x5u: `${attacker.url}?cert` } })),
  jwt('embedded jwk of the attacker key', () =>
    signRaw(attackerKey, { alg: 'RS256', jwk: { kty: 'RSA', n: attackerKey.publicJwk.n, e: attackerKey.publicJwk.e } }, defaultClaims([orgA.id])),
  ),
  jwt('embedded jwk with a published kid', () => signRaw(attackerKey, { alg: 'RS256', kid: rsa.kid, jwk: attackerKey.publicJwk }, defaultClaims([orgA.id]))),
  jwt('x5c header', () => signRaw(attackerKey, { alg: 'RS256', kid: attackerKey.kid, x5c: [b64('not really a certificate')] }, defaultClaims([orgA.id]))),
  jwt('crit with an unknown extension (valid signature)', () =>
    signRaw(rsa, { alg: 'RS256', kid: rsa.kid, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true }, defaultClaims([orgA.id])),
  ),
  jwt('crit b64=false (unencoded payload)', () => signRaw(rsa, { alg: 'RS256', kid: rsa.kid, b64: false, crit: ['b64'] }, defaultClaims([orgA.id]))),
  // size and shape
  jwt('oversized token (> JWT_MAX_BYTES = 8192), validly signed', () => valid({ claims: { pad: 'x'.repeat(9000) } })),
  jwt('payload that is not JSON (valid signature)', () => signRaw(rsa, { alg: 'RS256', kid: rsa.kid }, 'not json')),
  jwt('payload that is a JSON array (valid signature)', () => signRaw(rsa, { alg: 'RS256', kid: rsa.kid }, [defaultClaims([orgA.id])])),
  jwt('malformed base64 (non-alphabet characters)', async () => {
    const [h, p, s] = segments(await valid())
    return `${h}.${p.slice(0, 10)}!*${p.slice(10)}.${s}`
  }),
  jwt('standard base64 with padding', async () => {
    const [h, p, s] = segments(await valid())
    return `${Buffer.from(h, 'base64url').toString('base64')}.${Buffer.from(p, 'base64url').toString('base64')}.${s}`
  }),
  jwt('header that is not JSON', async () => {
    const [, p, s] = segments(await valid())
    return `${b64('{"alg":"RS256",')}.${p}.${s}`
  }),
  jwt('two segments only', async () => segments(await valid()).slice(0, 2).join('.')),
  jwt('four segments', async () => `${await valid()}.${b64('extra')}`),
  jwt('five segments (JWE shape)', async () => `${await valid()}.a.b`),
  jwt('just dots', async () => '..'),
  // the organisation claim
  jwt('no organisations claim', () => valid({ claims: { organisations: undefined } })),
  jwt('organisations: empty array', () => valid({ claims: { organisations: [] } })),
  jwt('organisations: a number', () => valid({ claims: { organisations: 42 } })),
  jwt('organisations: array with a number', () => valid({ claims: { organisations: [orgA.id, 7] } })),
  jwt('organisations: empty string', () => valid({ claims: { organisations: '' } })),
  jwt('organisations: an object', () => valid({ claims: { organisations: { [orgA.id]: true } } })),
  jwt('organisations: null', () => valid({ claims: { organisations: null } })),
  // the header itself
  { name: 'empty Bearer token', authorization: async () => 'Bearer ' },
  { name: 'empty Authorization header', authorization: async () => '' },
  { name: 'valid JWT with the Basic scheme', authorization: async () => `Basic ${await valid()}` },
  { name: 'valid JWT without a scheme', authorization: () => valid() },
  { name: 'two JWTs in one header', authorization: async () => `Bearer ${await valid()} ${await valid()}` },
]

describe('tampered and invalid tokens', () => {
  test('control: an untampered token of the same shape works', async () => {
    const res = await listA(bearer(await valid()))
    assert.equal(res.status, 200, res.raw.body)
    assert.equal(idp.requests.length, 1, 'the first token fetches the JWKS once')
  })

  test(`the corpus has at least 30 cases (${corpus.length})`, () => {
    assert.ok(corpus.length >= 30)
    assert.equal(new Set(corpus.map((c) => c.name)).size, corpus.length)
  })

  for (const c of corpus) {
    test(`401 like a missing credential: ${c.name}`, async () => {
      const authorization = await c.authorization()
      assertAnonymous401(await listA({ authorization }), c.name)
      // Also on a write, which must not get as far as validation or the database.
      const write = await t.request({
        method: 'POST',
        url: `/o/${orgA.id}/protocols/http/connectors`,
        headers: { authorization },
        payload: connectorBody(),
      })
      assertAnonymous401(write, `${c.name} (POST)`)
    })
  }

  test('nothing was created by the corpus', async () => {
    const rows = await t.db.kysely.selectFrom('connectors').select('id').execute()
    assert.deepEqual(rows, [])
  })

  test('URLs in jku/x5u were never fetched; unknown kids did not make the service refetch within the cooldown', () => {
    assert.deepEqual(attacker.requests, [])
    assert.equal(idp.requests.length, 1, `JWKS requests: ${idp.requests.join(', ')}`)
  })

  test('the documented size limit: a token of exactly 8192 bytes works, 8193+ does not', async () => {
    const sized = async (pad: number) => valid({ claims: { pad: 'x'.repeat(pad) } })
    const base = (await sized(0)).length
    let pad = Math.floor(((8192 - base) * 3) / 4) - 4
    let token = await sized(pad)
    while ((await sized(pad + 1)).length <= 8192) token = await sized(++pad)
    assert.ok(token.length <= 8192 && token.length >= 8188, `token is ${token.length} bytes`)
    assert.equal((await listA(bearer(token))).status, 200)
    const over = await sized(pad + 1)
    assert.ok(over.length > 8192)
    assertAnonymous401(await listA(bearer(over)), `${over.length} bytes`)
  })
})

describe('tokens that are valid', () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    test(`${alg}: reads and writes org A, is 403 on org B`, async () => {
      const key = { RS256: rsa, ES256: es, EdDSA: ed }[alg]
      const token = await mintToken(key, [orgA.id], { claims: { sub: `svc-${alg}` } })
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg, alg)
      assert.equal((await listA(bearer(token))).status, 200)
      const created = await t.request({
        method: 'POST',
        url: `/o/${orgA.id}/protocols/http/connectors`,
        headers: bearer(token),
        payload: connectorBody({ name: `by ${alg}` }),
      })
      assert.equal(created.status, 201, created.raw.body)
      const row = await t.db.kysely.selectFrom('connectors').select(['organisation_id', 'name']).where('id', '=', created.body.id).executeTakeFirst()
      assert.deepEqual(row, { organisation_id: orgA.id, name: `by ${alg}` })
      const other = await t.request({ method: 'GET', url: `/o/${orgB.id}/connectors`, headers: bearer(token) })
      assert.equal(other.status, 403)
      assert.equal(other.body.code, 'forbidden')
    })
  }

  test('a token for org A on org B (existing or not) is one identical 403, not 401', async () => {
    const token = await valid()
    const existing = await t.request({ method: 'GET', url: `/o/${orgB.id}/connectors`, headers: bearer(token) })
    const missing = await t.request({ method: 'GET', url: `/o/${newId()}/connectors`, headers: bearer(token) })
    const write = await t.request({
      method: 'POST',
      url: `/o/${orgB.id}/protocols/http/connectors`,
      headers: bearer(token),
      payload: connectorBody(),
    })
    for (const res of [existing, missing, write]) {
      assert.equal(res.status, 403, res.raw.body)
      assert.equal(res.raw.body, existing.raw.body)
    }
    assert.equal(existing.body.code, 'forbidden')
    const rows = await t.db.kysely.selectFrom('connectors').select('id').where('organisation_id', '=', orgB.id).execute()
    assert.deepEqual(rows, [])
  })

  test('clock tolerance: expired 10 s ago and nbf 10 s ahead still work (tolerance 30 s)', async () => {
    assert.equal(t.jwt?.clockToleranceS, 30)
    assert.equal((await listA(bearer(await valid({ claims: { iat: now() - 600, exp: now() - 10 } })))).status, 200)
    assert.equal((await listA(bearer(await valid({ claims: { nbf: now() + 10 } })))).status, 200)
  })

  test('the organisations claim as a string, as an array, and "*" for every organisation', async () => {
    const orgC = await t.newOrg('C')
    const asString = await mintToken(es, orgA.id)
    const asArray = await mintToken(es, [orgA.id, orgB.id])
    const star = await mintToken(es, '*')
    const starInArray = await mintToken(es, ['*'])
    const status = async (token: string, org: string) =>
      (await t.request({ method: 'GET', url: `/o/${org}/connectors`, headers: bearer(token) })).status
    assert.deepEqual([await status(asString, orgA.id), await status(asString, orgB.id)], [200, 403])
    assert.deepEqual([await status(asArray, orgA.id), await status(asArray, orgB.id), await status(asArray, orgC.id)], [200, 200, 403])
    for (const token of [star, starInArray]) {
      assert.deepEqual([await status(token, orgA.id), await status(token, orgB.id), await status(token, orgC.id)], [200, 200, 200])
    }
  })

  test('the Bearer scheme is case-insensitive for JWTs too', async () => {
    assert.equal((await listA({ authorization: `bearer ${await valid()}` })).status, 200)
  })
})

describe('configuration', () => {
  test('an allow-list of ES256 only rejects RS256 and EdDSA tokens from the same JWKS', async () => {
    const esOnly = await buildAuthApp({ db: t.db, jwks: idp, jwt: { algorithms: ['ES256'] } })
    try {
      assert.equal((await listA(bearer(await mintToken(es, [orgA.id])), esOnly)).status, 200)
      assertAnonymous401(await listA(bearer(await mintToken(rsa, [orgA.id])), esOnly), 'RS256 with ES256 only')
      assertAnonymous401(await listA(bearer(await mintToken(ed, [orgA.id])), esOnly), 'EdDSA with ES256 only')
    } finally {
      await esOnly.close()
    }
  })

  test('JWT_ORG_CLAIM names the claim that lists organisations', async () => {
    const custom = await buildAuthApp({ db: t.db, jwks: idp, jwt: { orgClaim: 'https://example.com/tenants' } })
    try {
      const good = await mintToken(es, undefined, { claims: { 'https://example.com/tenants': [orgA.id] } })
      assert.equal((await listA(bearer(good), custom)).status, 200)
      assertAnonymous401(await listA(bearer(await mintToken(es, [orgA.id])), custom), 'default claim name')
    } finally {
      await custom.close()
    }
  })

  test('without JWT configuration every JWT is 401, exactly like no credential', async () => {
    const plain = await buildAuthApp({ db: t.db })
    try {
      assert.equal(plain.jwt, undefined)
      const anon = await listA({}, plain)
      assert.equal(anon.raw.body, anonymous.body)
      for (const token of [await valid(), await mintToken(es, '*'), await mintToken(ed, [orgA.id])]) {
        assertAnonymous401(await listA(bearer(token), plain), 'JWT with JWTs disabled')
        assertAnonymous401(await listA({ cookie: `session=${token}` }, plain), 'cookie with JWTs disabled')
      }
      // API keys keep working.
      assert.equal((await listA(orgA.auth, plain)).status, 200)
    } finally {
      await plain.close()
    }
  })
})

describe('key rotation', () => {
  let server: KeyServer
  let rotating: AuthApp
  let k1: SigningKey
  let k2: SigningKey
  let k3: SigningKey
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  before(async () => {
    ;[k1, k2, k3] = await Promise.all([createSigningKey('ES256'), createSigningKey('ES256'), createSigningKey('RS256')])
    server = await startKeyServer([k1])
    rotating = await buildAuthApp({ db: t.db, jwks: server, jwt: { jwksCooldownS: 1 } })
  })
  after(async () => {
    await rotating?.close()
    await server?.stop()
  })

  test('a key added to the JWKS verifies after one refetch', async () => {
    assert.equal((await listA(bearer(await mintToken(k1, [orgA.id])), rotating)).status, 200)
    assert.equal(server.requests.length, 1)
    server.setKeys([k1, k2])
    await pause(1050) // past the cooldown that the first fetch started
    assert.equal((await listA(bearer(await mintToken(k2, [orgA.id])), rotating)).status, 200)
    assert.equal(server.requests.length, 2, 'exactly one refetch for the new kid')
    assert.equal((await listA(bearer(await mintToken(k2, [orgA.id])), rotating)).status, 200)
    assert.equal((await listA(bearer(await mintToken(k1, [orgA.id])), rotating)).status, 200)
    assert.equal(server.requests.length, 2, 'known kids do not refetch')
  })

  test('random unknown kids within the cooldown cause at most one JWKS fetch', async () => {
    const start = server.requests.length
    for (let i = 0; i < 25; i++) {
      const token = await mintToken(k1, [orgA.id], { header: { kid: `random-${i}-${Math.random()}` } })
      assertAnonymous401(await listA(bearer(token), rotating), `random kid ${i}`)
    }
    assert.ok(server.requests.length - start <= 1, `${server.requests.length - start} fetches`)

    // Once the cooldown has passed, a burst of concurrent unknown kids still makes one fetch.
    await pause(1050)
    const burstStart = server.requests.length
    const burst = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => listA(bearer(await mintToken(k1, [orgA.id], { header: { kid: `burst-${i}` } })), rotating)),
    )
    for (const res of burst) assertAnonymous401(res, 'burst')
    assert.equal(server.requests.length - burstStart, 1)
  })

  test('a key published during the cooldown is picked up once the cooldown has passed', async () => {
    const start = server.requests.length
    server.setKeys([k1, k2, k3])
    // The burst above just fetched: within the cooldown the new kid is not fetched yet.
    assertAnonymous401(await listA(bearer(await mintToken(k3, [orgA.id])), rotating), 'new kid within cooldown')
    assert.equal(server.requests.length, start)
    await pause(1050)
    assert.equal((await listA(bearer(await mintToken(k3, [orgA.id])), rotating)).status, 200)
    assert.equal(server.requests.length, start + 1)
  })

  test('JWKS endpoint answering 503: cached keys keep working, new kids fail', async () => {
    server.failWith(503)
    await pause(1050)
    const k4 = await createSigningKey('ES256')
    assertAnonymous401(await listA(bearer(await mintToken(k4, [orgA.id])), rotating), 'unknown kid while the IdP fails')
    for (const key of [k1, k2, k3]) assert.equal((await listA(bearer(await mintToken(key, [orgA.id])), rotating)).status, 200)
    server.failWith(undefined)
  })
})

describe('JWKS endpoint down', () => {
  let server: KeyServer
  let app: AuthApp
  let k1: SigningKey
  let k2: SigningKey
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  before(async () => {
    ;[k1, k2] = await Promise.all([createSigningKey('ES256'), createSigningKey('EdDSA')])
    server = await startKeyServer([k1, k2])
    // Refresh every second, so the key set is stale (and refetched) on every later request.
    app = await buildAuthApp({ db: t.db, jwks: server, jwt: { jwksCooldownS: 1, jwksRefreshS: 1 } })
  })
  after(async () => {
    await app?.close()
    await server?.stop()
  })

  test('a key removed from the JWKS stops verifying once the stale set is refreshed', async () => {
    assert.equal((await listA(bearer(await mintToken(k2, [orgA.id])), app)).status, 200)
    server.setKeys([k1])
    await pause(1100)
    assertAnonymous401(await listA(bearer(await mintToken(k2, [orgA.id])), app), 'removed key')
    assert.equal((await listA(bearer(await mintToken(k1, [orgA.id])), app)).status, 200)
  })

  test('with the server stopped, tokens signed by cached keys still verify and a new kid fails', async () => {
    const fetched = server.requests.length
    await server.stop()
    await pause(1100) // stale and past the cooldown: the next request tries (and fails) to refetch
    assert.equal((await listA(bearer(await mintToken(k1, [orgA.id])), app)).status, 200)
    const created = await app.request({
      method: 'POST',
      url: `/o/${orgA.id}/protocols/http/connectors`,
      headers: bearer(await mintToken(k1, [orgA.id])),
      payload: connectorBody({ name: 'while the IdP is down' }),
    })
    assert.equal(created.status, 201, created.raw.body)
    const k3 = await createSigningKey('ES256')
    await pause(1050)
    assertAnonymous401(await listA(bearer(await mintToken(k3, [orgA.id])), app), 'new kid while the IdP is down')
    assert.equal((await listA(bearer(await mintToken(k1, [orgA.id])), app)).status, 200)
    assert.equal(server.requests.length, fetched, 'a stopped server records nothing')
  })

  test('an IdP that is down before the first fetch: every JWT is 401, API keys still work', async () => {
    const dead = await startKeyServer([k1])
    await dead.stop()
    const cold = await buildAuthApp({ db: t.db, jwks: dead })
    try {
      assertAnonymous401(await listA(bearer(await mintToken(k1, [orgA.id])), cold), 'no key set yet')
      assert.equal((await listA(orgA.auth, cold)).status, 200)
    } finally {
      await cold.close()
    }
  })
})
