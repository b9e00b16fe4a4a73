import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { formatApiKey, hashSecret, newApiKeySecret, parseApiKey, secretMatches } from '../../src/auth/api-key-format.ts'
import { revokeApiKey } from '../../src/auth/api-keys.repository.ts'
import { issueApiKey } from '../../src/auth/api-keys.service.ts'
import { newId } from '../../src/ids.ts'
import { buildTestApp, connectorBody, createConnector, createVersion, publish, type TestApp, type TestOrg, type TestResponse } from '../helpers/app.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

/** Every table holding organisation data, sorted so two snapshots compare exactly. */
async function snapshot(): Promise<Record<string, string[]>> {
  const k = t.db.kysely
  const tables = {
    organisations: await k.selectFrom('organisations').selectAll().execute(),
    api_keys: await k.selectFrom('api_keys').selectAll().execute(),
    connectors: await k.selectFrom('connectors').selectAll().execute(),
    connector_tags: await k.selectFrom('connector_tags').selectAll().execute(),
    connector_categories: await k.selectFrom('connector_categories').selectAll().execute(),
    connector_versions: await k.selectFrom('connector_versions').selectAll().execute(),
    connector_defaults: await k.selectFrom('connector_defaults').selectAll().execute(),
  }
  return Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, rows.map((r) => JSON.stringify(r)).sort()]))
}

describe('api key format', () => {
  test('format and parse round-trip; the secret carries 256 random bits', () => {
    const id = newId()
    const secret = newApiKeySecret()
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(secret, 'base64url').length, 32)
    const key = formatApiKey(id, secret)
    assert.equal(key, `crk_${id}_${secret}`)
    assert.deepEqual(parseApiKey(key), { keyId: id, secret })
    const secrets = new Set(Array.from({ length: 50 }, () => newApiKeySecret()))
    assert.equal(secrets.size, 50)
  })

  test('secrets may contain "_" and "-" and still parse back', () => {
    const id = newId()
    const secret = `_-${'a'.repeat(39)}-_`
    assert.deepEqual(parseApiKey(formatApiKey(id, secret)), { keyId: id, secret })
  })

  test('parse rejects anything that is not exactly crk_<ULID>_<43 base64url chars>', () => {
    const id = newId()
    const secret = newApiKeySecret()
    const bad = [
      '',
      'crk_',
      `${id}_${secret}`,
      `crx_${id}_${secret}`,
      `CRK_${id}_${secret}`,
      `crk_${id.toLowerCase()}_${secret}`,
      `crk_${id.slice(1)}_${secret}`,
      `crk_${id}0_${secret}`,
      `crk_${id.slice(0, 25)}U_${secret}`, // U is not in Crockford's alphabet
      `crk_${id}_${secret.slice(1)}`,
      `crk_${id}_${secret}A`,
      `crk_${id}_${secret.slice(0, 42)}=`,
      `crk_${id}_${secret.slice(0, 42)}+`,
      `crk_${id}${secret}`,
      ` crk_${id}_${secret}`,
      `crk_${id}_${secret} `,
      `crk_${id}_${secret}\n`,
    ]
    for (const token of bad) assert.equal(parseApiKey(token), undefined, `accepted ${JSON.stringify(token)}`)
  })

  test('the stored hash is not the secret and only the right secret matches it', () => {
    const secret = newApiKeySecret()
    const hash = hashSecret(secret)
    assert.notEqual(hash, secret)
    assert.ok(!hash.includes(secret))
    assert.match(hash, /^[0-9a-f]{64}$/)
    assert.equal(hashSecret(secret), hash, 'hashing is deterministic')
    assert.equal(secretMatches(secret, hash), true)
    assert.equal(secretMatches(newApiKeySecret(), hash), false)
    assert.equal(secretMatches(`${secret.slice(0, 42)}${secret[42] === 'A' ? 'B' : 'A'}`, hash), false)
    assert.equal(secretMatches(secret, hashSecret(newApiKeySecret())), false)
    // A corrupt stored hash never matches and never throws.
    assert.equal(secretMatches(secret, ''), false)
    assert.equal(secretMatches(secret, hash.slice(0, 32)), false)
    assert.equal(secretMatches(secret, 'zz'), false)
  })

  test('issued keys are stored only as a hash', async () => {
    const org = await t.newOrg('hash check')
    const row = await t.db.kysely.selectFrom('api_keys').selectAll().where('id', '=', org.keyId).executeTakeFirstOrThrow()
    const parsed = parseApiKey(org.key)
    assert.ok(parsed)
    assert.equal(parsed.keyId, org.keyId)
    assert.equal(row.organisation_id, org.id)
    assert.equal(row.secret_hash, hashSecret(parsed.secret))
    assert.ok(!JSON.stringify(row).includes(parsed.secret))
    assert.equal(row.revoked_at, null)
  })
})

describe('authentication', () => {
  const url = () => `/o/${t.org.id}/connectors`

  test('a valid key authenticates; the Bearer scheme is case-insensitive', async () => {
    const ok = await t.request({ method: 'GET', url: url() })
    assert.equal(ok.status, 200)
    const lower = await t.request({ method: 'GET', url: url(), as: null, headers: { authorization: `bearer ${t.org.key}` } })
    assert.equal(lower.status, 200)
  })

  test('missing, malformed, unknown, wrong and revoked credentials all get the same 401', async () => {
    const parsed = parseApiKey(t.org.key)!
    const otherSecret = newApiKeySecret()
    const revoked = await issueApiKey(t.db, t.org.id, 'to revoke')
    const before = await t.request({ method: 'GET', url: url(), as: null, headers: { authorization: `Bearer ${revoked.key}` } })
    assert.equal(before.status, 200, 'the key works before it is revoked')
    assert.equal(await revokeApiKey(t.db, revoked.id), true)

    const variants: Record<string, string | undefined> = {
      'no header': undefined,
      'empty header': '',
      'basic scheme': `Basic ${Buffer.from('user:pass').toString('base64')}`,
      'token scheme with a valid key': `Token ${t.org.key}`,
      'valid key without a scheme': t.org.key,
      'Bearer alone': 'Bearer',
      'Bearer and spaces': 'Bearer   ',
      'Bearer garbage': 'Bearer not-an-api-key',
      'two tokens': `Bearer ${t.org.key} ${t.org.key}`,
      'short secret': `Bearer crk_${parsed.keyId}_${parsed.secret.slice(1)}`,
      'long secret': `Bearer ${t.org.key}A`,
      'lower-case key id': `Bearer crk_${parsed.keyId.toLowerCase()}_${parsed.secret}`,
      'well-formed, unknown key id': `Bearer ${formatApiKey(newId(), parsed.secret)}`,
      'right key id, wrong secret': `Bearer ${formatApiKey(parsed.keyId, otherSecret === parsed.secret ? newApiKeySecret() : otherSecret)}`,
      'revoked key': `Bearer ${revoked.key}`,
    }
    let reference: string | undefined
    for (const [label, authorization] of Object.entries(variants)) {
      const res = await t.request({
        method: 'GET',
        url: url(),
        as: null,
        headers: authorization === undefined ? {} : { authorization },
        // Its own client address, so failures counted elsewhere cannot push it into a 429.
        remoteAddress: '198.51.100.1',
      })
      assert.equal(res.status, 401, `${label}: ${res.raw.body}`)
      assert.equal(res.body.code, 'unauthenticated', label)
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/, `${label}: www-authenticate`)
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', label)
      reference ??= res.raw.body
      assert.equal(res.raw.body, reference, `${label}: the 401 body differs`)
    }

    // Revoking one key leaves the organisation's other keys working.
    const still = await t.request({ method: 'GET', url: url() })
    assert.equal(still.status, 200)
    // Revoking again keeps the first revocation.
    const row = await t.db.kysely.selectFrom('api_keys').select('revoked_at').where('id', '=', revoked.id).executeTakeFirstOrThrow()
    assert.ok(row.revoked_at)
    assert.equal(await revokeApiKey(t.db, revoked.id), true)
    const again = await t.db.kysely.selectFrom('api_keys').select('revoked_at').where('id', '=', revoked.id).executeTakeFirstOrThrow()
    assert.equal(again.revoked_at, row.revoked_at)
    assert.equal(await revokeApiKey(t.db, newId()), false)
  })

  test('authentication comes before body parsing and validation: no 400/415/404 leaks to anonymous callers', async () => {
    const remoteAddress = '198.51.100.2'
    const reference = await t.request({ method: 'GET', url: url(), as: null, remoteAddress })
    assert.equal(reference.status, 401)
    const probes = [
      { method: 'POST' as const, url: `/o/${t.org.id}/protocols/http/connectors`, payload: '{not json', headers: { 'content-type': 'application/json' } },
      { method: 'POST' as const, url: `/o/${t.org.id}/protocols/http/connectors`, payload: 'x', headers: { 'content-type': 'text/plain' } },
      { method: 'PUT' as const, url: `/o/${t.org.id}/connectors/${newId()}`, payload: '{}', headers: { 'content-type': 'application/json' } },
      { method: 'GET' as const, url: `/o/not-a-ulid/connectors`, headers: {} },
      { method: 'GET' as const, url: `/o/${t.org.id}/connectors?first=0`, headers: {} },
      { method: 'GET' as const, url: `/o/${newId()}/connectors/${newId()}/versions/latest`, headers: {} },
      { method: 'GET' as const, url: '/connectors', headers: {} },
      { method: 'GET' as const, url: '/categories', headers: {} },
    ]
    for (const probe of probes) {
      const res = await t.request({ ...probe, as: null, remoteAddress })
      assert.equal(res.status, 401, `${probe.method} ${probe.url}: ${res.raw.body}`)
      assert.equal(res.raw.body, reference.raw.body)
      assert.ok(res.headers['www-authenticate'])
    }
  })

  test('health, readiness, the OpenAPI document and the docs need no credentials (and ignore bad ones)', async () => {
    for (const headers of [{}, { authorization: 'Bearer nonsense' }]) {
      const health = await t.request({ method: 'GET', url: '/healthz', as: null, headers })
      assert.equal(health.status, 200)
      assert.deepEqual(health.body, { status: 'ok' })
      const ready = await t.request({ method: 'GET', url: '/readyz', as: null, headers })
      assert.equal(ready.status, 200)
      assert.deepEqual(ready.body, { status: 'ready' })
      const openapi = await t.request({ method: 'GET', url: '/openapi.json', as: null, headers })
      assert.equal(openapi.status, 200)
      assert.match(openapi.body.openapi, /^3\.1\./)
      const docs = await t.request({ method: 'GET', url: '/docs', as: null, headers })
      assert.equal(docs.status, 200)
      assert.match(String(docs.headers['content-type']), /^text\/html/)
      assert.match(docs.raw.body, /<html/i)
    }
  })
})

describe('organisation isolation', () => {
  let a: TestOrg
  let b: TestOrg
  let connector: { id: string }
  const randomOrg = newId()

  before(async () => {
    a = t.org
    b = await t.newOrg('intruder')
    connector = await createConnector(t, { name: 'A private', tags: { env: ['prod'], beta: [] } })
    const categories = await t.request({
      method: 'PUT',
      url: `/o/${a.id}/connectors/${connector.id}/categories`,
      payload: { categories: ['CRM'] },
    })
    assert.equal(categories.status, 204)
    await createVersion(t, connector.id, 'v1', {})
    await publish(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2', {})
    await publish(t, connector.id, 'v2')
    const pin = await t.request({
      method: 'PUT',
      url: `/o/${a.id}/connectors/${connector.id}/versions/v1`,
      payload: { name: 'v1', isDefault: true },
    })
    assert.equal(pin.status, 200, JSON.stringify(pin.body))
    await createVersion(t, connector.id, 'draft')
  })

  type Probe = { operationId: string; method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; payload?: unknown }

  /** One request per operation (and per version reference) against connector `connectorId` of `org`. */
  function probes(org: string, connectorId: string, opts: { withConnector: boolean }): Probe[] {
    const out: Probe[] = []
    if (!opts.withConnector) {
      out.push({ operationId: 'CreateHTTPConnector', method: 'POST', url: `/o/${org}/protocols/http/connectors`, payload: connectorBody() })
      out.push({ operationId: 'ListConnectors', method: 'GET', url: `/o/${org}/connectors` })
      out.push({ operationId: 'ListConnectors', method: 'GET', url: `/o/${org}/connectors?first=1&name=A&sort=name:asc` })
      return out
    }
    const c = `/o/${org}/connectors/${connectorId}`
    out.push(
      { operationId: 'GetConnector', method: 'GET', url: c },
      {
        operationId: 'UpdateConnector',
        method: 'PUT',
        url: c,
        payload: { id: connectorId, organisationId: org, name: 'stolen', protocol: 'http', baseUrl: 'https://evil.example.com' },
      },
      { operationId: 'DeleteConnector', method: 'DELETE', url: c },
      { operationId: 'DeleteConnector', method: 'DELETE', url: `${c}?force=true` },
      { operationId: 'UpdateConnectorTags', method: 'PUT', url: `${c}/tags`, payload: { tags: { owned: ['yes'] } } },
      { operationId: 'UpdateConnectorCategories', method: 'PUT', url: `${c}/categories`, payload: { categories: ['ERP'] } },
      { operationId: 'CreateConnectorVersion', method: 'POST', url: `${c}/versions`, payload: { name: 'intruder' } },
      { operationId: 'CreateConnectorVersion', method: 'POST', url: `${c}/versions`, payload: { name: 'copy', fromVersion: 'v1' } },
      { operationId: 'ListConnectorVersions', method: 'GET', url: `${c}/versions` },
    )
    for (const ref of ['v1', 'v2', 'draft', 'latest', 'DEFAULT', 'missing']) {
      const v = `${c}/versions/${ref}`
      out.push(
        { operationId: 'GetConnectorVersion', method: 'GET', url: v },
        { operationId: 'UpdateConnectorVersion', method: 'PUT', url: v, payload: { name: ref === 'draft' ? 'renamed' : ref, isDefault: false } },
        { operationId: 'UpdateConnectorVersion', method: 'PUT', url: v, payload: { name: ref, description: 'changed', isDefault: true } },
        { operationId: 'DeleteConnectorVersion', method: 'DELETE', url: v },
        { operationId: 'DeleteConnectorVersion', method: 'DELETE', url: `${v}?force=true` },
        { operationId: 'PublishConnector', method: 'POST', url: `${v}/publish` },
        { operationId: 'UnpublishConnector', method: 'POST', url: `${v}/unpublish` },
      )
    }
    // Versioned content (actions, triggers, definitions, raw schemas) and subscriptions.
    const action = { type: 'http', name: 'Intruder', method: 'GET', path: '/', parameters: [], responses: [{ status: 200, definitions: [] }] }
    const trigger = { type: 'http', name: 'Intruder', method: 'POST', parameters: [], responses: [{ status: 200, definitions: [] }] }
    const definition = { name: 'Intruder', accept: ['application/json'], schema: { contentType: 'application/schema+json', content: '{}' } }
    for (const ref of ['draft', 'latest']) {
      const v = `${c}/versions/${ref}`
      out.push(
        { operationId: 'GetActions', method: 'GET', url: `${v}/actions` },
        { operationId: 'CreateAction', method: 'POST', url: `${v}/actions`, payload: action },
        { operationId: 'GetAction', method: 'GET', url: `${v}/actions/Intruder` },
        { operationId: 'UpdateAction', method: 'PUT', url: `${v}/actions/Intruder`, payload: { ...action, id: newId() } },
        { operationId: 'DeleteAction', method: 'DELETE', url: `${v}/actions/Intruder` },
        { operationId: 'GetTriggers', method: 'GET', url: `${v}/triggers` },
        { operationId: 'CreateTrigger', method: 'POST', url: `${v}/triggers`, payload: trigger },
        { operationId: 'GetTrigger', method: 'GET', url: `${v}/triggers/Intruder` },
        { operationId: 'UpdateTrigger', method: 'PUT', url: `${v}/triggers/Intruder`, payload: { ...trigger, id: newId() } },
        { operationId: 'DeleteTrigger', method: 'DELETE', url: `${v}/triggers/Intruder` },
        { operationId: 'GetDefinitions', method: 'GET', url: `${v}/definitions` },
        { operationId: 'CreateDefinitions', method: 'POST', url: `${v}/definitions`, payload: { definitions: [definition] } },
        { operationId: 'DeleteDefinitions', method: 'DELETE', url: `${v}/definitions?force=true`, payload: { all: true } },
        { operationId: 'GetDefinition', method: 'GET', url: `${v}/definitions/Intruder` },
        { operationId: 'UpdateDefinition', method: 'PUT', url: `${v}/definitions/Intruder`, payload: { ...definition, id: newId() } },
        { operationId: 'DeleteDefinition', method: 'DELETE', url: `${v}/definitions/Intruder?force=true` },
        { operationId: 'GetRawSchema', method: 'GET', url: `/o/${org}/schemas/${connectorId}/${ref}/Intruder.json` },
      )
    }
    out.push(
      { operationId: 'ListConnectorSubscriptions', method: 'GET', url: `${c}/subscriptions` },
      { operationId: 'PutConnectorSubscription', method: 'PUT', url: `${c}/subscriptions/intruder`, payload: { version: 'v1' } },
      { operationId: 'DeleteConnectorSubscription', method: 'DELETE', url: `${c}/subscriptions/intruder` },
    )
    return out
  }

  async function send(probe: Probe, as: TestOrg): Promise<Pick<TestResponse, 'status' | 'headers' | 'body' | 'raw'>> {
    const payload = probe.payload !== undefined ? { payload: probe.payload as object } : {}
    return t.request({ method: probe.method, url: probe.url, as, ...payload })
  }

  test('the matrix covers every organisation-scoped operation', () => {
    const doc = t.app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> }
    const scoped = new Set<string>()
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith('/o/{organisation_id}')) continue
      for (const op of Object.values(operations)) if (op.operationId) scoped.add(op.operationId)
    }
    const covered = new Set([...probes(a.id, connector.id, { withConnector: false }), ...probes(a.id, connector.id, { withConnector: true })].map((p) => p.operationId))
    assert.deepEqual([...covered].sort(), [...scoped].sort())
    assert.equal(scoped.size, 34)
  })

  test("another organisation's key gets one identical 403 for its id and for an organisation that does not exist", async () => {
    const start = await snapshot()
    let forbidden: string | undefined
    for (const withConnector of [false, true]) {
      for (const org of [a.id, randomOrg]) {
        const connectorId = org === a.id ? connector.id : newId()
        for (const probe of probes(org, connectorId, { withConnector })) {
          const res = await send(probe, b)
          assert.equal(res.status, 403, `${probe.method} ${probe.url}: ${res.raw.body}`)
          assert.equal(res.body.code, 'forbidden')
          forbidden ??= res.raw.body
          assert.equal(res.raw.body, forbidden, `${probe.method} ${probe.url}: the 403 body differs`)
          assert.equal(res.headers.etag, undefined, 'no entity tag leaks')
        }
      }
    }
    // The same with the unrelated connector under A's path: the answer does not depend on the connector.
    for (const probe of probes(a.id, newId(), { withConnector: true })) {
      const res = await send(probe, b)
      assert.equal(res.status, 403)
      assert.equal(res.raw.body, forbidden)
    }
    assert.deepEqual(await snapshot(), start, "A's data changed")
  })

  test("another organisation's connector under your own organisation is 404, exactly like a connector that does not exist", async () => {
    const start = await snapshot()
    const own = await createConnector(t, { name: 'B own' }, b)
    const notFound = new Map<string, string>()
    for (const probe of probes(b.id, newId(), { withConnector: true })) {
      const res = await send(probe, b)
      assert.equal(res.status, 404, `${probe.method} ${probe.url}: ${res.raw.body}`)
      assert.equal(res.body.code, 'connector_not_found')
      notFound.set(`${probe.operationId} ${probe.method}`, res.raw.body)
    }
    for (const probe of probes(b.id, connector.id, { withConnector: true })) {
      const res = await send(probe, b)
      assert.equal(res.status, 404, `${probe.method} ${probe.url}: ${res.raw.body}`)
      assert.equal(res.raw.body, notFound.get(`${probe.operationId} ${probe.method}`), `${probe.method} ${probe.url}: differs from a missing connector`)
      assert.equal(res.headers.etag, undefined)
    }
    // B's own connector is untouched by all of this and A's rows are unchanged.
    const mine = await t.request({ method: 'GET', url: `/o/${b.id}/connectors/${own.id}`, as: b })
    assert.equal(mine.status, 200)
    assert.equal(mine.body.name, 'B own')
    await t.request({ method: 'DELETE', url: `/o/${b.id}/connectors/${own.id}`, as: b })
    assert.deepEqual(await snapshot(), start, "A's data changed")
  })

  test("A's connector is unchanged and still fully usable by A", async () => {
    const res = await t.request({ method: 'GET', url: `/o/${a.id}/connectors/${connector.id}` })
    assert.equal(res.status, 200)
    assert.equal(res.body.name, 'A private')
    assert.deepEqual(res.body.tags, { env: ['prod'], beta: [] })
    assert.deepEqual(res.body.categories, ['CRM'])
    const versions = Object.fromEntries(
      (res.body.versions as { name: string; isDefault: boolean; isLatest: boolean; publishedAt: string | null; description?: string }[]).map(
        (v) => [v.name, { isDefault: v.isDefault, isLatest: v.isLatest, published: v.publishedAt !== null, description: v.description }],
      ),
    )
    assert.deepEqual(versions, {
      v1: { isDefault: true, isLatest: false, published: true, description: undefined },
      v2: { isDefault: false, isLatest: true, published: true, description: undefined },
      draft: { isDefault: false, isLatest: false, published: false, description: undefined },
    })
  })

  test("ListConnectors never shows another organisation's connectors", async () => {
    const own = await createConnector(t, { name: 'A private too', public: true }, b)
    for (const query of ['', '?name=A', '?name=private', '?tags=env:prod', '?categories=CRM', '?first=100&sort=name:asc']) {
      const res = await t.request({ method: 'GET', url: `/o/${b.id}/connectors${query}`, as: b })
      assert.equal(res.status, 200)
      const ids = (res.body.connectors as { id: string; organisationId: string }[]).map((c) => c.id)
      assert.ok(!ids.includes(connector.id), `A's connector listed for B with ${query}`)
      for (const c of res.body.connectors as { organisationId: string }[]) assert.equal(c.organisationId, b.id)
      assert.equal(res.body.totalCount, ids.length)
    }
    const all = await t.request({ method: 'GET', url: `/o/${b.id}/connectors`, as: b })
    assert.ok((all.body.connectors as { id: string }[]).some((c) => c.id === own.id), "B's own connector is missing")
    const mineForA = await t.request({ method: 'GET', url: `/o/${a.id}/connectors` })
    assert.ok(!(mineForA.body.connectors as { id: string }[]).some((c) => c.id === own.id))
  })

  test('ListPublicConnectors shows A\'s connector to B only while it is public, with published versions only', async () => {
    const listed = async () => {
      const res = await t.request({ method: 'GET', url: '/connectors?first=100', as: b })
      assert.equal(res.status, 200)
      for (const c of res.body.connectors as { public: boolean }[]) assert.equal(c.public, true)
      return (res.body.connectors as { id: string; versions: { name: string; publishedAt: string | null }[] }[]).find(
        (c) => c.id === connector.id,
      )
    }
    assert.equal(await listed(), undefined, 'a private connector is listed publicly')

    const current = await t.request({ method: 'GET', url: `/o/${a.id}/connectors/${connector.id}` })
    const update = (isPublic: boolean) =>
      t.request({
        method: 'PUT',
        url: `/o/${a.id}/connectors/${connector.id}`,
        payload: {
          id: connector.id,
          organisationId: a.id,
          name: current.body.name,
          protocol: 'http',
          baseUrl: current.body.baseUrl,
          tags: current.body.tags,
          public: isPublic,
        },
      })
    assert.equal((await update(true)).status, 200)
    const shown = await listed()
    assert.ok(shown, 'a public connector is not listed')
    assert.deepEqual(shown.versions.map((v) => v.name).sort(), ['v1', 'v2'])
    for (const v of shown.versions) assert.notEqual(v.publishedAt, null)

    // Public listing is read-only: B still cannot read it through A's organisation path.
    const direct = await t.request({ method: 'GET', url: `/o/${a.id}/connectors/${connector.id}`, as: b })
    assert.equal(direct.status, 403)

    assert.equal((await update(false)).status, 200)
    assert.equal(await listed(), undefined, 'a connector made private again is still listed')
  })
})
