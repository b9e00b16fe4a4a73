import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, connectorBody, createConnector, createVersion, type TestApp, type TestResponse } from '../helpers/app.ts'

/**
 * Malformed input: every case is a 4xx in the error envelope (never a 5xx; the harness fails
 * on any) and leaves the stored data exactly as it was.
 */

let t: TestApp
let small: TestApp
let connectorId: string
before(async () => {
  t = await buildTestApp()
  small = await buildTestApp({ bodyLimitBytes: 2048 })
  const c = await createConnector(t, { name: 'Existing', tags: { env: ['prod'] } })
  connectorId = c.id
  await createVersion(t, connectorId, 'v1')
})
after(async () => {
  await small.close()
  await t.close()
})

const JSON_TYPE = { 'content-type': 'application/json' }
const createUrl = () => `/o/${t.org.id}/protocols/http/connectors`
const connectorUrl = () => `/o/${t.org.id}/connectors/${connectorId}`

/** Every stored row of the registry's data tables, in a stable order. */
async function storedState(app: TestApp = t): Promise<unknown> {
  const k = app.db.kysely
  return {
    organisations: await k.selectFrom('organisations').selectAll().orderBy('id').execute(),
    connectors: await k.selectFrom('connectors').selectAll().orderBy('id').execute(),
    tags: await k.selectFrom('connector_tags').selectAll().orderBy('connector_id').orderBy('position').execute(),
    categories: await k.selectFrom('connector_categories').selectAll().orderBy('connector_id').orderBy('category').execute(),
    versions: await k.selectFrom('connector_versions').selectAll().orderBy('id').execute(),
    defaults: await k.selectFrom('connector_defaults').selectAll().orderBy('connector_id').execute(),
  }
}

/** Sends a request that must fail with `status` (and `code` when given) and change nothing. */
async function expectRejected(
  options: Parameters<TestApp['request']>[0],
  status: number,
  code?: string,
  app: TestApp = t,
): Promise<TestResponse> {
  const before = await storedState(app)
  const res = await app.request(options)
  const label = `${options.method ?? 'GET'} ${String(options.url)}`
  assert.equal(res.status, status, `${label}: ${res.raw.body.slice(0, 500)}`)
  assert.equal(typeof res.body, 'object', `${label}: error body is JSON`)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  if (code !== undefined) assert.equal(res.body.code, code, label)
  assert.deepEqual(await storedState(app), before, `${label}: stored data changed`)
  return res
}

function fieldNames(res: TestResponse): string[] {
  return ((res.body.fields ?? []) as { field: string }[]).map((f) => f.field)
}

/** The write operations that take a JSON body, with a valid body for each. */
function writes(): { method: 'POST' | 'PUT'; url: string; valid: Record<string, unknown> }[] {
  return [
    { method: 'POST', url: createUrl(), valid: connectorBody() },
    {
      method: 'PUT',
      url: connectorUrl(),
      valid: { id: connectorId, organisationId: t.org.id, name: 'Renamed', protocol: 'http', baseUrl: 'https://api.example.com' },
    },
    { method: 'PUT', url: `${connectorUrl()}/tags`, valid: { tags: { a: [] } } },
    { method: 'PUT', url: `${connectorUrl()}/categories`, valid: { categories: ['CRM'] } },
    { method: 'POST', url: `${connectorUrl()}/versions`, valid: { name: 'v2' } },
    { method: 'PUT', url: `${connectorUrl()}/versions/v1`, valid: { name: 'v1', description: 'changed' } },
  ]
}

describe('malformed JSON', () => {
  const malformed = ['{"name":', '{name: "x"}', "{'name': 'x'}", '[1,]', '{"a":1}}', 'nul', '{"a":1,}', '{"a" 1}', '\u0000', '{"a":"\\x"}', '"unterminated']
  test('→ 400 invalid_json on every write, nothing stored', async () => {
    for (const { method, url } of writes()) {
      for (const payload of malformed) {
        await expectRejected({ method, url, payload, headers: JSON_TYPE }, 400, 'invalid_json')
      }
    }
  })

  test('a charset parameter does not change the outcome', async () => {
    await expectRejected({ method: 'POST', url: createUrl(), payload: '{"name":', headers: { 'content-type': 'application/json; charset=utf-8' } }, 400, 'invalid_json')
    const ok = await t.request({ method: 'POST', url: createUrl(), payload: JSON.stringify(connectorBody({ name: 'charset ok' })), headers: { 'content-type': 'application/json; charset=utf-8' } })
    assert.equal(ok.status, 201)
  })
})

describe('content type', () => {
  const types = [
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'application/xml',
    'multipart/form-data; boundary=xyz',
    'application/octet-stream',
    'application/vnd.api+json',
    'application/json-patch+json',
  ]
  test('a body that is not application/json → 415 unsupported_media_type, nothing stored', async () => {
    for (const { method, url, valid } of writes()) {
      for (const type of types) {
        // A JSON text in the wrong wrapper is still refused: the content type decides.
        await expectRejected({ method, url, payload: JSON.stringify(valid), headers: { 'content-type': type } }, 415, 'unsupported_media_type')
      }
    }
  })
})

describe('missing or empty bodies', () => {
  test('create without a body, with an empty JSON body, or with a non-object → 400', async () => {
    await expectRejected({ method: 'POST', url: createUrl() }, 400, 'validation_failed')
    await expectRejected({ method: 'POST', url: createUrl(), payload: '', headers: JSON_TYPE }, 400, 'validation_failed')
    await expectRejected({ method: 'POST', url: createUrl(), payload: '   \n', headers: JSON_TYPE }, 400, 'validation_failed')
    for (const payload of ['null', '[]', '42', '"text"', 'true']) {
      await expectRejected({ method: 'POST', url: createUrl(), payload, headers: JSON_TYPE }, 400, 'validation_failed')
    }
  })

  test('an empty object names every missing required field', async () => {
    const res = await expectRejected({ method: 'POST', url: createUrl(), payload: {} }, 400, 'validation_failed')
    for (const field of ['name', 'baseUrl', 'authSchemeConfigs']) assert.ok(fieldNames(res).includes(field), `${field} in ${fieldNames(res)}`)
  })

  test('every write without a body → 400', async () => {
    for (const { method, url } of writes()) {
      await expectRejected({ method, url }, 400, 'validation_failed')
      await expectRejected({ method, url, payload: '', headers: JSON_TYPE }, 400, 'validation_failed')
    }
  })
})

describe('fields of the wrong type', () => {
  test('create: each wrong type → 400 validation_failed naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 123 }, 'name'],
      [{ name: null }, 'name'],
      [{ name: ['Example'] }, 'name'],
      [{ public: 'true' }, 'public'],
      [{ public: 1 }, 'public'],
      [{ tags: 'env:prod' }, 'tags'],
      [{ tags: ['env'] }, 'tags'],
      [{ tags: { env: { value: 'prod' } } }, 'tags.env'],
      [{ tags: { env: 'prod' } }, 'tags.env'],
      [{ tags: { env: [1] } }, 'tags.env[0]'],
      [{ baseUrl: 42 }, 'baseUrl'],
      [{ authSchemeConfigs: {} }, 'authSchemeConfigs'],
      [{ connectionVariables: 'x' }, 'connectionVariables'],
      [{ documentationURL: false }, 'documentationURL'],
    ]
    for (const [overrides, field] of cases) {
      const res = await expectRejected({ method: 'POST', url: createUrl(), payload: connectorBody(overrides) }, 400, 'validation_failed')
      assert.ok(fieldNames(res).some((f) => f === field || f.startsWith(`${field}`)), `${JSON.stringify(overrides)}: ${fieldNames(res)}`)
    }
  })

  test('other writes: wrong types → 400 naming the field', async () => {
    const base = { id: connectorId, organisationId: t.org.id, name: 'Existing', protocol: 'http', baseUrl: 'https://api.example.com' }
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['PUT', connectorUrl(), { ...base, public: 'false' }, 'public'],
      ['PUT', connectorUrl(), { ...base, name: 7 }, 'name'],
      ['PUT', connectorUrl(), { ...base, tags: { env: { a: 1 } } }, 'tags.env'],
      ['PUT', connectorUrl(), { ...base, authSchemeConfigIds: 'x' }, 'authSchemeConfigIds'],
      ['PUT', `${connectorUrl()}/tags`, { tags: 'env' }, 'tags'],
      ['PUT', `${connectorUrl()}/categories`, { categories: 'CRM' }, 'categories'],
      ['POST', `${connectorUrl()}/versions`, { name: 5 }, 'name'],
      ['POST', `${connectorUrl()}/versions`, { name: 'v9', fromVersion: 1 }, 'fromVersion'],
      ['PUT', `${connectorUrl()}/versions/v1`, { name: 'v1', isDefault: 'yes' }, 'isDefault'],
      ['PUT', `${connectorUrl()}/versions/v1`, { name: 'v1', description: ['x'] }, 'description'],
    ]
    for (const [method, url, payload, field] of cases) {
      const res = await expectRejected({ method: method as 'PUT', url, payload }, 400, 'validation_failed')
      assert.ok(fieldNames(res).includes(field), `${method} ${url} ${JSON.stringify(payload)}: ${fieldNames(res)}`)
    }
  })
})

describe('body size', () => {
  test('a body over the configured limit → 413 payload_too_large, nothing stored', async () => {
    const url = `/o/${small.org.id}/protocols/http/connectors`
    const big = connectorBody({ name: 'x'.repeat(3000) })
    assert.ok(JSON.stringify(big).length > 2048)
    const res = await expectRejected({ method: 'POST', url, payload: big }, 413, 'payload_too_large', small)
    assert.equal(res.body.fields, undefined)
    // Also with a misleading content type: the limit is not bypassed.
    await expectRejected({ method: 'POST', url, payload: JSON.stringify(big), headers: { 'content-type': 'application/json; charset=utf-8' } }, 413, 'payload_too_large', small)

    // Just under the limit is fine.
    const fits = await small.request({ method: 'POST', url, payload: connectorBody({ name: 'fits' }) })
    assert.equal(fits.status, 201)

    // Updating an existing connector with an oversize body changes nothing.
    const c = fits.body
    const put = { id: c.id, organisationId: c.organisationId, name: 'y'.repeat(3000), protocol: 'http', baseUrl: c.baseUrl }
    await expectRejected({ method: 'PUT', url: `/o/${small.org.id}/connectors/${c.id}`, payload: put }, 413, 'payload_too_large', small)
    await expectRejected({ method: 'PUT', url: `/o/${small.org.id}/connectors/${c.id}/tags`, payload: { tags: { big: ['z'.repeat(250)].concat(Array(10).fill('w'.repeat(250))) } } }, 413, 'payload_too_large', small)
  })

  test('the default limit is 1 MiB', async () => {
    const huge = connectorBody({ name: 'huge', connections: ['x'.repeat(1024 * 1024)] })
    await expectRejected({ method: 'POST', url: createUrl(), payload: huge }, 413, 'payload_too_large')
    // Well under it is accepted (the ignored connections array is dropped).
    const fine = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'big but fine', connections: ['x'.repeat(512 * 1024)] }) })
    assert.equal(fine.status, 201)
    assert.deepEqual(fine.body.connections, [])
  })
})

describe('path parameters', () => {
  const badIds = ['not-a-ulid', '01J9ZQ0000000000000000KEY', '01J9ZQ0000000000000000KEY11', '01J9ZQ0000000000000000KEYU', '01j9zq0000000000000000key1', '%20', "'; drop table connectors; --"]

  test('a non-ULID organisation id → 400 naming params.organisation_id', async () => {
    for (const id of badIds) {
      const enc = encodeURIComponent(id)
      for (const [method, url, payload] of [
        ['GET', `/o/${enc}/connectors`, undefined],
        ['POST', `/o/${enc}/protocols/http/connectors`, connectorBody()],
        ['GET', `/o/${enc}/connectors/${connectorId}`, undefined],
      ] as const) {
        const res = await expectRejected({ method, url, ...(payload ? { payload } : {}) }, 400, 'validation_failed')
        assert.ok(fieldNames(res).includes('params.organisation_id'), `${url}: ${fieldNames(res)}`)
      }
    }
  })

  test('a non-ULID connector id → 400 naming params.connector_id, nothing changes', async () => {
    const org = `/o/${t.org.id}/connectors`
    for (const id of badIds) {
      const enc = encodeURIComponent(id)
      const attempts = [
        { method: 'GET' as const, url: `${org}/${enc}` },
        { method: 'PUT' as const, url: `${org}/${enc}`, payload: { id, organisationId: t.org.id, name: 'x', protocol: 'http', baseUrl: 'https://x.example.com' } },
        { method: 'PUT' as const, url: `${org}/${enc}/tags`, payload: { tags: {} } },
        { method: 'PUT' as const, url: `${org}/${enc}/categories`, payload: { categories: [] } },
        { method: 'GET' as const, url: `${org}/${enc}/versions` },
        { method: 'POST' as const, url: `${org}/${enc}/versions`, payload: { name: 'v1' } },
        { method: 'GET' as const, url: `${org}/${enc}/versions/v1` },
        { method: 'POST' as const, url: `${org}/${enc}/versions/v1/publish` },
      ]
      for (const attempt of attempts) {
        const res = await expectRejected(attempt, 400, 'validation_failed')
        assert.ok(fieldNames(res).includes('params.connector_id'), `${attempt.method} ${attempt.url}: ${fieldNames(res)}`)
      }
    }
  })

  test('DELETE with a non-ULID connector id → 400 and nothing is deleted', async () => {
    // The reference declares no error responses for DeleteConnector, so this bypasses its check.
    const before = await storedState()
    const raw = await t.app.inject({ method: 'DELETE', url: `/o/${t.org.id}/connectors/not-a-ulid`, headers: t.org.auth })
    assert.equal(raw.statusCode, 400)
    assert.equal(JSON.parse(raw.body).code, 'validation_failed')
    assert.deepEqual(await storedState(), before)
  })

  test('bad percent-encoding in the path → 4xx in the error envelope', async () => {
    const urls = [
      '/o/%E0%A4%A/connectors',
      `/o/${t.org.id}/connectors/%zz`,
      `/o/${t.org.id}/connectors/${connectorId}/versions/%`,
      `/o/${t.org.id}/connectors/${connectorId}/versions/%C0%AF`,
      `/o/${t.org.id}/connectors/${connectorId}/versions/%ED%A0%80`,
      `/o/${t.org.id}/connectors/${connectorId}/versions/v1%`,
    ]
    for (const url of urls) {
      const before = await storedState()
      const res = await t.request({ method: 'GET', url })
      assert.ok(res.status >= 400 && res.status < 500, `${url}: ${res.status}`)
      assert.equal(typeof res.body.code, 'string')
      const write = await t.request({ method: 'PUT', url, payload: { name: 'x' } })
      assert.ok(write.status >= 400 && write.status < 500, `PUT ${url}: ${write.status}`)
      assert.deepEqual(await storedState(), before)
    }
  })

  test('bad percent-encoding in the query string never causes a 5xx', async () => {
    for (const qs of ['name=%zz', 'name=%E0%A4%A', 'name=%', 'tags=%C0%AF', 'first=%31%30', 'sort=%ZZ']) {
      const res = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?${qs}` })
      assert.ok(res.status === 200 || res.status === 400, `${qs}: ${res.status}`)
    }
  })

  test('repeated scalar query parameters → 400', async () => {
    for (const qs of ['first=1&first=2', 'name=a&name=b', 'sort=name:asc&sort=id:asc']) {
      const res = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?${qs}` })
      assert.equal(res.status, 400, qs)
      assert.equal(res.body.code, 'validation_failed')
    }
  })
})

describe('unknown routes', () => {
  test('→ 404 not_found, with or without credentials', async () => {
    const routes: [string, string][] = [
      ['GET', '/nope'],
      ['GET', '/o'],
      ['GET', `/o/${t.org.id}`],
      ['GET', `/o/${t.org.id}/nope`],
      ['POST', `/o/${t.org.id}/connectors`],
      ['PATCH', connectorUrl()],
      ['DELETE', '/categories'],
      ['GET', `${connectorUrl()}/versions/v1/publish`],
      ['GET', `${connectorUrl()}/versions/v1/extra/segment`],
    ]
    for (const [method, url] of routes) {
      for (const as of [undefined, null]) {
        const before = await storedState()
        const res = await t.request({ method: method as 'GET', url, ...(as === null ? { as: null } : {}) })
        assert.equal(res.status, 404, `${method} ${url}: ${res.raw.body}`)
        assert.equal(res.body.code, 'not_found')
        assert.deepEqual(await storedState(), before)
      }
    }
  })
})

describe('hostile JSON', () => {
  test('__proto__ and constructor.prototype payloads are refused, nothing stored, no pollution', async () => {
    const payloads = [
      '{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"__proto__":{"public":true,"polluted":1}}',
      '{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"constructor":{"prototype":{"polluted":1}}}',
      '{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"tags":{"__proto__":["polluted"]}}',
      '{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"\\u005f_proto__":{"polluted":1}}',
      '{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[{"__proto__":{"schemeType":"none"},"id":"01J9ZQ0000000000000000KEY1","description":""}]}',
    ]
    for (const payload of payloads) {
      const before = await storedState()
      const res = await t.request({ method: 'POST', url: createUrl(), payload, headers: JSON_TYPE })
      assert.ok(res.status >= 400 && res.status < 500, `${payload}: ${res.status}`)
      assert.deepEqual(await storedState(), before)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.equal(({} as Record<string, unknown>).public, undefined)
    }
    for (const { method, url } of writes().slice(1)) {
      const res = await t.request({ method, url, payload: '{"__proto__":{"polluted":1}}', headers: JSON_TYPE })
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${url}: ${res.status}`)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    }
  })

  test('deeply nested JSON → 4xx, wherever the nesting is', async () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
    const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)
    const bodies = [
      deep(100_000),
      `{"name":${deep(10_000)},"baseUrl":"https://a.example.com","authSchemeConfigs":[]}`,
      `{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"connections":[${deep(10_000)}]}`,
      `{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"unknown":${deepObject(10_000)}}`,
      `{"name":"x","baseUrl":"https://a.example.com","authSchemeConfigs":[],"tags":{"a":${deep(1000)}}}`,
    ]
    for (const payload of bodies) {
      await expectRejected({ method: 'POST', url: createUrl(), payload, headers: JSON_TYPE }, 400)
    }
    await expectRejected({ method: 'PUT', url: `${connectorUrl()}/versions/v1`, payload: `{"name":"v1","messages":[${deep(5000)}]}`, headers: JSON_TYPE }, 400)
  })

  test('U+0000 in text never causes a 5xx; when accepted it is stored exactly', async () => {
    const cases: { method: 'POST' | 'PUT'; url: string; payload: Record<string, unknown> }[] = [
      { method: 'POST', url: createUrl(), payload: connectorBody({ name: 'nul\u0000name' }) },
      { method: 'PUT', url: `${connectorUrl()}/tags`, payload: { tags: { 'k\u0000': ['v\u0000'] } } },
      { method: 'PUT', url: `${connectorUrl()}/versions/v1`, payload: { name: 'v1', description: 'nul\u0000desc' } },
    ]
    for (const { method, url, payload } of cases) {
      const before = await storedState()
      const res = await t.request({ method, url, payload })
      assert.ok(res.status < 300 || res.status === 400, `${method} ${url}: ${res.status}`)
      if (res.status === 400) assert.deepEqual(await storedState(), before)
    }
    const accepted = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?name=${encodeURIComponent('nul\u0000')}` })
    assert.ok(accepted.status === 200 || accepted.status === 400, String(accepted.status))
    if (accepted.status === 200) {
      // SQLite stores the text as is and it reads back unchanged.
      assert.deepEqual(accepted.body.connectors.map((c: { name: string }) => c.name), ['nul\u0000name'])
    }
    for (const url of [`${connectorUrl()}/versions/a%00b`, `/o/${t.org.id}/connectors?tags=%00`, `/o/${t.org.id}/connectors?protocol=%00`]) {
      const res = await t.request({ method: 'GET', url })
      assert.ok(res.status < 500, `${url}: ${res.status}`)
    }
    // A version name with U+0000 is an invalid name on both dialects.
    await expectRejected({ method: 'POST', url: `${connectorUrl()}/versions`, payload: { name: 'a\u0000b' } }, 400, 'invalid_version_name')
  })
})

describe('bodiless POSTs', () => {
  test('publish and unpublish accept an empty body with content-type: application/json', async () => {
    await createVersion(t, connectorId, 'empty-body')
    const url = `${connectorUrl()}/versions/empty-body`
    const published = await t.request({ method: 'POST', url: `${url}/publish`, payload: '', headers: JSON_TYPE })
    assert.equal(published.status, 200, published.raw.body)
    assert.notEqual(published.body.version.publishedAt, null)
    const row = await t.db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', connectorId).where('name', '=', 'empty-body').executeTakeFirst()
    assert.notEqual(row?.published_at, null)

    const unpublished = await t.request({ method: 'POST', url: `${url}/unpublish`, payload: '', headers: JSON_TYPE })
    assert.equal(unpublished.status, 200, unpublished.raw.body)
    assert.equal(unpublished.body.version.publishedAt, null)

    // Without any content type, and with an empty JSON object, too.
    assert.equal((await t.request({ method: 'POST', url: `${url}/publish` })).status, 200)
    assert.equal((await t.request({ method: 'POST', url: `${url}/unpublish`, payload: {} })).status, 200)
  })

  test('publish with a malformed JSON body → 400 invalid_json and the version stays a draft', async () => {
    await createVersion(t, connectorId, 'bad-body')
    await expectRejected({ method: 'POST', url: `${connectorUrl()}/versions/bad-body/publish`, payload: '{', headers: JSON_TYPE }, 400, 'invalid_json')
  })
})
