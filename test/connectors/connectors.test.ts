import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CATEGORIES } from '../../src/connectors/connectors.schemas.ts'
import { buildTestApp, connectorBody, createConnector, createVersion, publish, type TestApp, type TestOrg } from '../helpers/app.ts'

/**
 * Connector operations through HTTP: create, get, update (PUT), delete, tags, categories,
 * ListCategories, ETag / If-Match / If-None-Match. Stored state is checked with Kysely.
 */

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/
const KEY1 = '01J9ZQ0000000000000000KEY1'
const KEY2 = '01J9ZQ0000000000000000KEY2'
const KEY3 = '01J9ZQ0000000000000000KEY3'
const UNKNOWN_ID = '01J9ZQ00000000000000000000'

const createUrl = (org: TestOrg = t.org) => `/o/${org.id}/protocols/http/connectors`
const connectorUrl = (id: string, org: TestOrg = t.org) => `/o/${org.id}/connectors/${id}`
const pause = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms))

/** A full UpdateConnector body built from a connector representation. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function putBody(connector: any, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: connector.id,
    organisationId: connector.organisationId,
    name: connector.name,
    protocol: connector.protocol,
    baseUrl: connector.baseUrl,
    ...overrides,
  }
}

/** Every stored row that belongs to connectors, in a stable order: compared before and after failed writes. */
async function storedState(): Promise<unknown> {
  const k = t.db.kysely
  return {
    connectors: await k.selectFrom('connectors').selectAll().orderBy('id').execute(),
    tags: await k.selectFrom('connector_tags').selectAll().orderBy('connector_id').orderBy('position').execute(),
    categories: await k.selectFrom('connector_categories').selectAll().orderBy('connector_id').orderBy('category').execute(),
    versions: await k.selectFrom('connector_versions').selectAll().orderBy('id').execute(),
    defaults: await k.selectFrom('connector_defaults').selectAll().orderBy('connector_id').execute(),
  }
}

async function connectorRow(id: string) {
  return t.db.kysely.selectFrom('connectors').selectAll().where('id', '=', id).executeTakeFirst()
}

async function getConnector(id: string, org: TestOrg = t.org) {
  const res = await t.request({ method: 'GET', url: connectorUrl(id, org), as: org })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res
}

/**
 * DeleteConnector error responses. The reference declares only 204 for DeleteConnector (no
 * `default` error response), so the harness's reference check would reject every error body;
 * this injects directly and checks the envelope and the project's own contract instead.
 */
async function deleteExpectingError(url: string, headers: Record<string, string> = {}) {
  const raw = await t.app.inject({ method: 'DELETE', url, headers: { ...t.org.auth, ...headers } })
  assert.ok(raw.statusCode >= 400 && raw.statusCode < 500, `DELETE ${url}: ${raw.statusCode} ${raw.body}`)
  const body = JSON.parse(raw.body) as { code: string; message: string; fields?: { field: string }[] }
  assert.equal(typeof body.code, 'string')
  assert.equal(typeof body.message, 'string')
  assert.deepEqual(Object.keys(body).filter((k) => !['code', 'message', 'fields', 'details'].includes(k)), [])
  return { status: raw.statusCode, body }
}

function fieldNames(body: { fields?: { field: string }[] }): string[] {
  return (body.fields ?? []).map((f) => f.field).sort()
}

describe('CreateHTTPConnector', () => {
  test('201 with the full representation and defaults', async () => {
    const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody() })
    assert.equal(res.status, 201)
    const c = res.body
    assert.match(c.id, ULID)
    assert.equal(c.organisationId, t.org.id)
    assert.equal(c.name, 'Example API')
    assert.equal(c.protocol, 'http')
    assert.equal(c.baseUrl, 'https://api.example.com')
    assert.equal(c.public, false)
    assert.deepEqual(c.tags, {})
    assert.deepEqual(c.categories, [])
    assert.deepEqual(c.connectionVariables, [])
    assert.deepEqual(c.connections, [])
    assert.deepEqual(c.versions, [])
    assert.deepEqual(c.authSchemeConfigs, [{ id: KEY1, description: 'API key', schemeType: 'api-key', name: 'X-API-Key', in: 'header' }])
    assert.equal('documentationURL' in c, false)
    assert.equal('imageURL' in c, false)
    assert.ok(!Number.isNaN(Date.parse(c.createdAt)))
    assert.equal(c.createdAt, c.updatedAt)
    assert.match(String(res.headers.etag), /^"[^"]+"$/)

    const row = await connectorRow(c.id)
    assert.ok(row)
    assert.equal(row.organisation_id, t.org.id)
    assert.equal(row.is_public, 0)
    assert.equal(row.documentation_url, null)
    assert.equal(row.image_url, null)
    // GET answers the same representation.
    assert.deepEqual((await getConnector(c.id)).body, c)
  })

  test('stores every optional field that is sent', async () => {
    const body = connectorBody({
      name: 'Full',
      public: true,
      documentationURL: 'https://docs.example.com',
      imageURL: 'https://img.example.com/logo.png',
      tags: { env: ['prod', 'dev'], beta: [] },
      connectionVariables: [{ name: 'region', value: 'eu' }],
    })
    const res = await t.request({ method: 'POST', url: createUrl(), payload: body })
    assert.equal(res.status, 201)
    assert.equal(res.body.public, true)
    assert.equal(res.body.documentationURL, 'https://docs.example.com')
    assert.equal(res.body.imageURL, 'https://img.example.com/logo.png')
    assert.deepEqual(res.body.tags, { env: ['prod', 'dev'], beta: [] })
    assert.deepEqual(res.body.connectionVariables, [{ name: 'region', value: 'eu' }])
    const tags = await t.db.kysely.selectFrom('connector_tags').selectAll().where('connector_id', '=', res.body.id).orderBy('position').execute()
    assert.deepEqual(
      tags.map((r) => [r.tag_key, r.tag_value]),
      [['env', 'prod'], ['env', 'dev'], ['beta', null]],
    )
  })

  test('unknown properties are dropped and never stored; connections are accepted and ignored', async () => {
    const body = connectorBody({
      name: 'Extras',
      colour: 'MARKER-colour',
      organisationId: 'MARKER-org',
      versions: [{ name: 'MARKER-version' }],
      connections: [{ id: 'MARKER-connection', credentials: { secret: 'MARKER-secret' } }],
      authSchemeConfigs: [
        { id: KEY1, description: 'd', schemeType: 'api-key', name: 'X', in: 'header', extra: 'MARKER-auth', validationMessages: [{ text: 'MARKER-msg', severity: 'info' }] },
      ],
      connectionVariables: [{ name: 'a', value: 'b', hidden: 'MARKER-var' }],
    })
    const before = await storedState()
    const res = await t.request({ method: 'POST', url: createUrl(), payload: body })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.doesNotMatch(res.raw.body, /MARKER/)
    assert.equal(res.body.organisationId, t.org.id)
    assert.deepEqual(res.body.connections, [])
    assert.deepEqual(res.body.versions, [])
    assert.deepEqual(res.body.authSchemeConfigs, [{ id: KEY1, description: 'd', schemeType: 'api-key', name: 'X', in: 'header' }])
    assert.deepEqual(res.body.connectionVariables, [{ name: 'a', value: 'b' }])

    const row = await connectorRow(res.body.id)
    assert.ok(row)
    assert.doesNotMatch(JSON.stringify(row), /MARKER/)
    assert.equal(row.organisation_id, t.org.id)
    // Nothing but the connector row itself was written.
    const after = (await storedState()) as { connectors: unknown[]; versions: unknown[] }
    assert.equal(after.connectors.length, (before as { connectors: unknown[] }).connectors.length + 1)
    assert.deepEqual(after.versions, (before as { versions: unknown[] }).versions)
    assert.doesNotMatch(JSON.stringify(after), /MARKER/)
  })

  test('an OAuth2 clientSecret is accepted but never stored or returned', async () => {
    const oauth = {
      id: KEY1,
      description: 'OAuth',
      schemeType: 'oauth2',
      authorizeUrl: 'https://auth.example.com/authorize',
      tokenUrl: 'https://auth.example.com/token',
      scopes: [{ name: 'read' }],
      defaultScopes: ['read'],
      grant: { grantType: 'authorization_code', clientId: 'client-1', clientSecret: 'TOP-SECRET-VALUE' },
    }
    const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ authSchemeConfigs: [oauth] }) })
    assert.equal(res.status, 201)
    assert.doesNotMatch(res.raw.body, /TOP-SECRET-VALUE|clientSecret/)
    assert.deepEqual(res.body.authSchemeConfigs[0].grant, { grantType: 'authorization_code', clientId: 'client-1' })
    const got = await getConnector(res.body.id)
    assert.doesNotMatch(got.raw.body, /TOP-SECRET-VALUE|clientSecret/)
    const row = await connectorRow(res.body.id)
    assert.doesNotMatch(JSON.stringify(row), /TOP-SECRET-VALUE|clientSecret/)
  })

  const invalid: [string, Record<string, unknown>, string][] = [
    ['non-ULID authSchemeConfig id', { authSchemeConfigs: [{ id: 'not-a-ulid', description: '', schemeType: 'none' }] }, 'authSchemeConfigs[0].id'],
    [
      'duplicate authSchemeConfig ids',
      { authSchemeConfigs: [{ id: KEY1, description: '', schemeType: 'none' }, { id: KEY1, description: '', schemeType: 'basic-auth' }] },
      'authSchemeConfigs[1].id',
    ],
    ['baseUrl that is not a URL', { baseUrl: 'not a url' }, 'baseUrl'],
    ['baseUrl with another scheme', { baseUrl: 'ftp://files.example.com' }, 'baseUrl'],
    ['empty baseUrl', { baseUrl: '' }, 'baseUrl'],
    ['empty name', { name: '' }, 'name'],
    ['blank name', { name: '   ' }, 'name'],
    ['unknown schemeType', { authSchemeConfigs: [{ id: KEY1, description: '', schemeType: 'magic' }] }, 'authSchemeConfigs[0]'],
    ['tag key with ":"', { tags: { 'a:b': ['x'] } }, 'tags'],
  ]
  for (const [label, overrides, field] of invalid) {
    test(`400 for ${label}, nothing stored`, async () => {
      const before = await storedState()
      const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody(overrides) })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(
        fieldNames(res.body).some((f) => f.startsWith(field)),
        `expected a field starting with ${field}: ${JSON.stringify(res.body.fields)}`,
      )
      assert.deepEqual(await storedState(), before)
    })
  }

  test('another organisation id in the path is 403 and stores nothing', async () => {
    const other = await t.newOrg('other')
    const before = await storedState()
    const res = await t.request({ method: 'POST', url: createUrl(other), payload: connectorBody() })
    assert.equal(res.status, 403)
    assert.equal(res.body.code, 'forbidden')
    assert.deepEqual(await storedState(), before)
  })
})

describe('GetConnector', () => {
  test('lists the versions with their state', async () => {
    const c = await createConnector(t, { name: 'With versions' })
    await createVersion(t, c.id, 'v1')
    await createVersion(t, c.id, 'v2')
    await publish(t, c.id, 'v1')
    const res = await getConnector(c.id)
    const versions = [...res.body.versions].sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name))
    assert.equal(versions.length, 2)
    assert.equal(versions[0].name, 'v1')
    assert.equal(versions[0].isLatest, true)
    assert.equal(versions[0].isDefault, true)
    assert.notEqual(versions[0].publishedAt, null)
    assert.equal(versions[1].name, 'v2')
    assert.equal(versions[1].isLatest, false)
    assert.equal(versions[1].isDefault, false)
    assert.equal(versions[1].publishedAt, null)
  })

  test('404 for an unknown connector id', async () => {
    const res = await t.request({ method: 'GET', url: connectorUrl(UNKNOWN_ID) })
    assert.equal(res.status, 404)
    assert.equal(res.body.code, 'connector_not_found')
  })

  test("another organisation's connector: 404 under the own path, 403 under theirs, and it stays unchanged", async () => {
    const other = await t.newOrg('neighbour')
    const theirs = await createConnector(t, { name: 'Theirs', tags: { a: ['b'] } }, other)
    const before = await storedState()
    const own = connectorUrl(theirs.id)
    const deleted = await deleteExpectingError(own)
    assert.equal(deleted.status, 404)
    assert.equal(deleted.body.code, 'connector_not_found')
    const attempts = [
      { method: 'GET' as const, url: own },
      { method: 'PUT' as const, url: own, payload: putBody(theirs, { organisationId: t.org.id }) },
      { method: 'PUT' as const, url: `${own}/tags`, payload: { tags: { x: [] } } },
      { method: 'PUT' as const, url: `${own}/categories`, payload: { categories: ['CRM'] } },
    ]
    for (const attempt of attempts) {
      const res = await t.request(attempt)
      assert.equal(res.status, 404, `${attempt.method} ${attempt.url}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'connector_not_found')
    }
    const forbidden = await t.request({ method: 'GET', url: connectorUrl(theirs.id, other) })
    assert.equal(forbidden.status, 403)
    assert.equal(forbidden.body.code, 'forbidden')
    assert.deepEqual(await storedState(), before)
    // The owner still sees it.
    assert.equal((await getConnector(theirs.id, other)).body.name, 'Theirs')
  })
})

describe('UpdateConnector', () => {
  test('replaces mutable fields and returns the connector', async () => {
    const c = await createConnector(t, { name: 'Before' })
    await createVersion(t, c.id, 'v1')
    const res = await t.request({
      method: 'PUT',
      url: connectorUrl(c.id),
      payload: putBody(c, {
        name: 'After',
        baseUrl: 'https://v2.example.com',
        public: true,
        tags: { team: ['core'] },
        documentationURL: 'https://docs.example.com',
        imageURL: 'https://img.example.com/x.png',
        connectionVariables: [{ name: 'k', value: 'v' }],
      }),
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.name, 'After')
    assert.equal(res.body.baseUrl, 'https://v2.example.com')
    assert.equal(res.body.public, true)
    assert.deepEqual(res.body.tags, { team: ['core'] })
    assert.equal(res.body.documentationURL, 'https://docs.example.com')
    assert.equal(res.body.imageURL, 'https://img.example.com/x.png')
    assert.deepEqual(res.body.connectionVariables, [{ name: 'k', value: 'v' }])
    assert.equal(res.body.versions.length, 1)
    assert.equal(res.body.createdAt, c.createdAt)
    assert.deepEqual((await getConnector(c.id)).body, res.body)
    const row = await connectorRow(c.id)
    assert.equal(row?.name, 'After')
    assert.equal(row?.is_public, 1)
  })

  test('a GET representation sent back as-is is accepted (extra fields ignored)', async () => {
    const c = await createConnector(t, { name: 'Round trip', tags: { a: ['1'] } })
    const got = (await getConnector(c.id)).body
    const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: got })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.name, 'Round trip')
    assert.deepEqual(res.body.tags, { a: ['1'] })
    assert.deepEqual(res.body.authSchemeConfigs, c.authSchemeConfigs)
  })

  test('read-only fields that differ are 400 read_only_field naming each, nothing changes', async () => {
    const c = await createConnector(t, { name: 'Read-only' })
    const other = await t.newOrg('ro')
    const cases: [Record<string, unknown>, string[]][] = [
      [{ id: UNKNOWN_ID }, ['id']],
      [{ organisationId: other.id }, ['organisationId']],
      [{ protocol: 'bigquery' }, ['protocol']],
      [{ id: UNKNOWN_ID, organisationId: other.id, protocol: 'grpc' }, ['id', 'organisationId', 'protocol']],
    ]
    for (const [overrides, fields] of cases) {
      const before = await storedState()
      const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c, { name: 'Changed', ...overrides }) })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'read_only_field')
      assert.deepEqual(fieldNames(res.body), fields)
      assert.deepEqual(await storedState(), before)
    }
    assert.equal((await getConnector(c.id)).body.name, 'Read-only')
  })

  test('invalid bodies are 400 validation_failed and change nothing', async () => {
    const c = await createConnector(t, { name: 'Validated' })
    const { id: _id, ...withoutId } = putBody(c)
    const cases: [Record<string, unknown>, string][] = [
      [withoutId, 'id'],
      [putBody(c, { name: '' }), 'name'],
      [putBody(c, { baseUrl: 'nope' }), 'baseUrl'],
      [putBody(c, { public: 'yes' }), 'public'],
      [putBody(c, { tags: { env: 'prod' } }), 'tags.env'],
      [putBody(c, { connectionVariables: [{ name: 'x' }] }), 'connectionVariables[0].value'],
    ]
    for (const [payload, field] of cases) {
      const before = await storedState()
      const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(fieldNames(res.body).includes(field), `${field} in ${JSON.stringify(res.body.fields)}`)
      assert.deepEqual(await storedState(), before)
    }
  })

  test('omitted optional fields are cleared; connectionVariables and categories are kept', async () => {
    const c = await createConnector(t, {
      name: 'Clearing',
      public: true,
      tags: { env: ['prod'] },
      documentationURL: 'https://docs.example.com',
      imageURL: 'https://img.example.com/a.png',
      connectionVariables: [{ name: 'region', value: 'eu' }],
    })
    assert.equal((await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload: { categories: ['CRM'] } })).status, 204)
    const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c) })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.public, false)
    assert.deepEqual(res.body.tags, {})
    assert.equal('documentationURL' in res.body, false)
    assert.equal('imageURL' in res.body, false)
    assert.deepEqual(res.body.connectionVariables, [{ name: 'region', value: 'eu' }])
    assert.deepEqual(res.body.categories, ['CRM'])
    assert.deepEqual(res.body.authSchemeConfigs, c.authSchemeConfigs)

    const row = await connectorRow(c.id)
    assert.equal(row?.is_public, 0)
    assert.equal(row?.documentation_url, null)
    assert.equal(row?.image_url, null)
    const tagRows = await t.db.kysely.selectFrom('connector_tags').selectAll().where('connector_id', '=', c.id).execute()
    assert.deepEqual(tagRows, [])

    // An explicit empty list does clear the connection variables.
    const cleared = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c, { connectionVariables: [] }) })
    assert.equal(cleared.status, 200)
    assert.deepEqual(cleared.body.connectionVariables, [])
  })

  test('authSchemeConfigIds reorders the configs; anything but a permutation is 400', async () => {
    const configs = [
      { id: KEY1, description: 'one', schemeType: 'none' },
      { id: KEY2, description: 'two', schemeType: 'basic-auth' },
      { id: KEY3, description: 'three', schemeType: 'api-key', name: 'k', in: 'query' },
    ]
    const c = await createConnector(t, { name: 'Reorder', authSchemeConfigs: configs })
    const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c, { authSchemeConfigIds: [KEY3, KEY1, KEY2] }) })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.authSchemeConfigs, [configs[2], configs[0], configs[1]])
    assert.deepEqual((await getConnector(c.id)).body.authSchemeConfigs, [configs[2], configs[0], configs[1]])

    // Omitted: order kept.
    const kept = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c) })
    assert.deepEqual(kept.body.authSchemeConfigs.map((a: { id: string }) => a.id), [KEY3, KEY1, KEY2])

    const bad = [[KEY1, KEY2], [KEY1, KEY2, KEY3, KEY1], [KEY1, KEY1, KEY2], [KEY1, KEY2, UNKNOWN_ID], []]
    for (const ids of bad) {
      const before = await storedState()
      const r = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c, { authSchemeConfigIds: ids, name: 'Changed' }) })
      assert.equal(r.status, 400, `${JSON.stringify(ids)}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.code, 'validation_failed')
      assert.deepEqual(fieldNames(r.body), ['authSchemeConfigIds'])
      assert.deepEqual(await storedState(), before)
    }
  })

  test('updatedAt moves forward on every update, createdAt never', async () => {
    const c = await createConnector(t, { name: 'Clock' })
    await pause()
    const first = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c) })
    assert.equal(first.status, 200)
    assert.ok(Date.parse(first.body.updatedAt) > Date.parse(c.updatedAt), `${first.body.updatedAt} > ${c.updatedAt}`)
    assert.equal(first.body.createdAt, c.createdAt)
    await pause()
    // Even an update that changes nothing else is an update.
    const second = await t.request({ method: 'PUT', url: connectorUrl(c.id), payload: putBody(c) })
    assert.ok(Date.parse(second.body.updatedAt) > Date.parse(first.body.updatedAt))
    assert.equal((await connectorRow(c.id))?.updated_at, second.body.updatedAt)
  })

  test('404 for an unknown connector', async () => {
    const res = await t.request({
      method: 'PUT',
      url: connectorUrl(UNKNOWN_ID),
      payload: { id: UNKNOWN_ID, organisationId: t.org.id, name: 'x', protocol: 'http', baseUrl: 'https://x.example.com' },
    })
    assert.equal(res.status, 404)
    assert.equal(res.body.code, 'connector_not_found')
  })
})

describe('DeleteConnector', () => {
  test('204, deletes the versions, tags, categories and default pin; 404 afterwards', async () => {
    const c = await createConnector(t, { name: 'Doomed', tags: { a: ['b'] } })
    const keep = await createConnector(t, { name: 'Survivor' })
    await createVersion(t, keep.id, 'k1')
    await createVersion(t, c.id, 'v1')
    await createVersion(t, c.id, 'v2')
    await publish(t, c.id, 'v1')
    const pin = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/versions/v1`, payload: { name: 'v1', isDefault: true } })
    assert.equal(pin.status, 200, JSON.stringify(pin.body))
    assert.equal((await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload: { categories: ['ERP'] } })).status, 204)
    const k = t.db.kysely
    assert.equal((await k.selectFrom('connector_defaults').selectAll().where('connector_id', '=', c.id).execute()).length, 1)

    const res = await t.request({ method: 'DELETE', url: connectorUrl(c.id) })
    assert.equal(res.status, 204)
    assert.equal(res.raw.body, '')

    assert.equal(await connectorRow(c.id), undefined)
    assert.deepEqual(await k.selectFrom('connector_versions').selectAll().where('connector_id', '=', c.id).execute(), [])
    assert.deepEqual(await k.selectFrom('connector_tags').selectAll().where('connector_id', '=', c.id).execute(), [])
    assert.deepEqual(await k.selectFrom('connector_categories').selectAll().where('connector_id', '=', c.id).execute(), [])
    assert.deepEqual(await k.selectFrom('connector_defaults').selectAll().where('connector_id', '=', c.id).execute(), [])
    // Other connectors and their versions are untouched.
    assert.equal((await k.selectFrom('connector_versions').selectAll().where('connector_id', '=', keep.id).execute()).length, 1)

    const again = await t.request({ method: 'GET', url: connectorUrl(c.id) })
    assert.equal(again.status, 404)
    assert.equal(again.body.code, 'connector_not_found')
    const deletedAgain = await deleteExpectingError(connectorUrl(c.id))
    assert.equal(deletedAgain.status, 404)
    assert.equal(deletedAgain.body.code, 'connector_not_found')
    const versions = await t.request({ method: 'GET', url: `${connectorUrl(c.id)}/versions` })
    assert.equal(versions.status, 404)
  })

  test('force=true is accepted; an invalid force is 400 and deletes nothing', async () => {
    const c = await createConnector(t, { name: 'Forced' })
    const before = await storedState()
    const bad = await deleteExpectingError(`${connectorUrl(c.id)}?force=maybe`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'validation_failed')
    assert.deepEqual(await storedState(), before)
    const res = await t.request({ method: 'DELETE', url: `${connectorUrl(c.id)}?force=true` })
    assert.equal(res.status, 204)
    assert.equal(await connectorRow(c.id), undefined)
  })
})

describe('UpdateConnectorTags and UpdateConnectorCategories', () => {
  test('tags are replaced (204), shown by GET and stored; updatedAt bumps', async () => {
    const c = await createConnector(t, { name: 'Tagged', tags: { old: ['x'] } })
    await pause()
    const res = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/tags`, payload: { tags: { env: ['prod', 'dev'], beta: [] } } })
    assert.equal(res.status, 204)
    assert.equal(res.raw.body, '')
    const got = (await getConnector(c.id)).body
    assert.deepEqual(got.tags, { env: ['prod', 'dev'], beta: [] })
    assert.ok(Date.parse(got.updatedAt) > Date.parse(c.updatedAt))
    const rows = await t.db.kysely.selectFrom('connector_tags').selectAll().where('connector_id', '=', c.id).orderBy('position').execute()
    assert.deepEqual(rows.map((r) => [r.tag_key, r.tag_value]), [['env', 'prod'], ['env', 'dev'], ['beta', null]])

    const cleared = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/tags`, payload: { tags: {} } })
    assert.equal(cleared.status, 204)
    assert.deepEqual((await getConnector(c.id)).body.tags, {})
  })

  test('invalid tags bodies are 400 and change nothing', async () => {
    const c = await createConnector(t, { name: 'Tag errors', tags: { keep: ['me'] } })
    const cases: [unknown, string][] = [
      [{ tags: { env: 'prod' } }, 'tags.env'],
      [{ tags: { env: [1] } }, 'tags.env[0]'],
      [{ tags: ['env'] }, 'tags'],
      [{ tags: { 'a,b': [] } }, 'tags'],
      [{}, 'tags'],
    ]
    for (const [payload, field] of cases) {
      const before = await storedState()
      const res = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/tags`, payload: payload as object })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(fieldNames(res.body).some((f) => f.startsWith(field)), `${field} in ${JSON.stringify(res.body.fields)}`)
      assert.deepEqual(await storedState(), before)
    }
  })

  test('categories are replaced (204), shown by GET and stored; updatedAt bumps', async () => {
    const c = await createConnector(t, { name: 'Categorised' })
    await pause()
    const res = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload: { categories: ['HR', 'CRM', 'HR'] } })
    assert.equal(res.status, 204)
    const got = (await getConnector(c.id)).body
    assert.deepEqual([...got.categories].sort(), ['CRM', 'HR'])
    assert.ok(Date.parse(got.updatedAt) > Date.parse(c.updatedAt))
    const rows = await t.db.kysely.selectFrom('connector_categories').select('category').where('connector_id', '=', c.id).orderBy('category').execute()
    assert.deepEqual(rows.map((r) => r.category), ['CRM', 'HR'])

    await pause()
    const replaced = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload: { categories: ['AI/LLMs'] } })
    assert.equal(replaced.status, 204)
    const after = (await getConnector(c.id)).body
    assert.deepEqual(after.categories, ['AI/LLMs'])
    assert.ok(Date.parse(after.updatedAt) > Date.parse(got.updatedAt))
  })

  test('an unknown category is 400 and changes nothing', async () => {
    const c = await createConnector(t, { name: 'Bad category' })
    assert.equal((await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload: { categories: ['ERP'] } })).status, 204)
    for (const payload of [{ categories: ['ERP', 'Nope'] }, { categories: ['crm'] }, { categories: 'ERP' }, {}]) {
      const before = await storedState()
      const res = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/categories`, payload })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(fieldNames(res.body).some((f) => f.startsWith('categories')), JSON.stringify(res.body.fields))
      assert.deepEqual(await storedState(), before)
    }
    assert.deepEqual((await getConnector(c.id)).body.categories, ['ERP'])
  })

  test('404 on an unknown connector', async () => {
    for (const [suffix, payload] of [['tags', { tags: {} }], ['categories', { categories: [] }]] as const) {
      const res = await t.request({ method: 'PUT', url: `${connectorUrl(UNKNOWN_ID)}/${suffix}`, payload })
      assert.equal(res.status, 404)
      assert.equal(res.body.code, 'connector_not_found')
    }
  })
})

describe('ListCategories', () => {
  test('lists every category', async () => {
    const res = await t.request({ method: 'GET', url: '/categories' })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, [...CATEGORIES])
    assert.ok(res.body.includes('CRM'))
  })

  test('needs credentials', async () => {
    const res = await t.request({ method: 'GET', url: '/categories', as: null })
    assert.equal(res.status, 401)
    assert.equal(res.body.code, 'unauthenticated')
  })
})

describe('ETag, If-Match and If-None-Match', () => {
  test('GET returns a strong ETag equal to the one create returned, and it changes with the connector', async () => {
    const created = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Tagged entity' }) })
    const got = await getConnector(created.body.id)
    const etag = String(got.headers.etag)
    assert.match(etag, /^"[^"]+"$/)
    assert.equal(created.headers.etag, etag)
    assert.equal((await getConnector(created.body.id)).headers.etag, etag, 'stable while nothing changes')
    await createVersion(t, created.body.id, 'v1')
    assert.notEqual((await getConnector(created.body.id)).headers.etag, etag, 'a new version changes the connector')
  })

  test('If-None-Match: current tag (strong, weak, in a list, or *) → 304, stale → 200', async () => {
    const c = await createConnector(t, { name: 'Conditional GET' })
    const etag = String((await getConnector(c.id)).headers.etag)
    for (const value of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await t.request({ method: 'GET', url: connectorUrl(c.id), headers: { 'if-none-match': value } })
      assert.equal(res.status, 304, value)
      assert.equal(res.raw.body, '')
      assert.equal(res.headers.etag, etag)
    }
    const stale = await t.request({ method: 'GET', url: connectorUrl(c.id), headers: { 'if-none-match': '"stale"' } })
    assert.equal(stale.status, 200)
    assert.equal(stale.body.id, c.id)
  })

  test('PUT: stale or weak If-Match → 412 and nothing changes; current or * → 200 with the new ETag', async () => {
    const c = await createConnector(t, { name: 'Conditional PUT' })
    const etag = String((await getConnector(c.id)).headers.etag)
    for (const value of ['"stale"', `W/${etag}`]) {
      const before = await storedState()
      const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': value }, payload: putBody(c, { name: 'Nope' }) })
      assert.equal(res.status, 412, value)
      assert.equal(res.body.code, 'precondition_failed')
      assert.deepEqual(await storedState(), before)
    }
    const ok = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': etag }, payload: putBody(c, { name: 'Yes' }) })
    assert.equal(ok.status, 200)
    const newTag = String(ok.headers.etag)
    assert.notEqual(newTag, etag)
    assert.equal((await getConnector(c.id)).headers.etag, newTag)

    // The old tag is stale now.
    const reused = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': etag }, payload: putBody(c, { name: 'Again' }) })
    assert.equal(reused.status, 412)
    assert.equal((await getConnector(c.id)).body.name, 'Yes')

    const star = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': '*' }, payload: putBody(c, { name: 'Star' }) })
    assert.equal(star.status, 200)
    assert.equal(star.body.name, 'Star')
    const listed = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': `"x", ${String(star.headers.etag)}` }, payload: putBody(c, { name: 'Listed' }) })
    assert.equal(listed.status, 200)
  })

  test('a change by a version makes an earlier ETag stale', async () => {
    const c = await createConnector(t, { name: 'Version changes' })
    const etag = String((await getConnector(c.id)).headers.etag)
    await createVersion(t, c.id, 'v1')
    const res = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': etag }, payload: putBody(c, { name: 'Nope' }) })
    assert.equal(res.status, 412)
  })

  test('DELETE: stale If-Match → 412 and the connector stays; * deletes', async () => {
    const c = await createConnector(t, { name: 'Conditional DELETE' })
    await createVersion(t, c.id, 'v1')
    const before = await storedState()
    const stale = await deleteExpectingError(connectorUrl(c.id), { 'if-match': '"stale"' })
    assert.equal(stale.status, 412)
    assert.equal(stale.body.code, 'precondition_failed')
    assert.deepEqual(await storedState(), before)
    const res = await t.request({ method: 'DELETE', url: connectorUrl(c.id), headers: { 'if-match': '*' } })
    assert.equal(res.status, 204)
    assert.equal(await connectorRow(c.id), undefined)
  })

  test('DELETE with the current ETag deletes', async () => {
    const c = await createConnector(t, { name: 'Conditional DELETE 2' })
    const etag = String((await getConnector(c.id)).headers.etag)
    const res = await t.request({ method: 'DELETE', url: connectorUrl(c.id), headers: { 'if-match': etag } })
    assert.equal(res.status, 204)
    assert.equal(await connectorRow(c.id), undefined)
  })

  test('tags and categories PUT honour If-Match', async () => {
    const c = await createConnector(t, { name: 'Conditional labels', tags: { a: [] } })
    for (const [suffix, payload] of [
      ['tags', { tags: { b: ['1'] } }],
      ['categories', { categories: ['CRM'] }],
    ] as const) {
      const before = await storedState()
      const stale = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/${suffix}`, headers: { 'if-match': '"stale"' }, payload })
      assert.equal(stale.status, 412, suffix)
      assert.equal(stale.body.code, 'precondition_failed')
      assert.deepEqual(await storedState(), before)

      const etag = String((await getConnector(c.id)).headers.etag)
      const ok = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/${suffix}`, headers: { 'if-match': etag }, payload })
      assert.equal(ok.status, 204, suffix)
      // The change made the tag stale.
      const reused = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/${suffix}`, headers: { 'if-match': etag }, payload })
      assert.equal(reused.status, 412, suffix)
      const star = await t.request({ method: 'PUT', url: `${connectorUrl(c.id)}/${suffix}`, headers: { 'if-match': '*' }, payload })
      assert.equal(star.status, 204, suffix)
    }
    const got = (await getConnector(c.id)).body
    assert.deepEqual(got.tags, { b: ['1'] })
    assert.deepEqual(got.categories, ['CRM'])
  })
})
