import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { newId } from '../../src/ids.ts'
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
} from './support.ts'

/**
 * Three organisations × {API key, JWT, session cookie with an allowed Origin} × every
 * connector and version route: no principal can read, change or even detect another
 * organisation's connectors or versions. Read-scope API keys can read but never write.
 */
const ORIGIN = 'https://console.example.com'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
type Probe = { operationId: string; method: Method; url: string; payload?: unknown }
type Kind = 'api-key' | 'jwt' | 'cookie'
type Principal = { label: string; kind: Kind; org: Org; headers: Record<string, string> }
type Org = AuthOrg & { privateId: string; publicId: string }

let idp: KeyServer
let t: AuthApp
const orgs: Org[] = []
const principals: Principal[] = []

async function setupOrg(name: string): Promise<Org> {
  const org = await t.newOrg(name)
  const call = async (method: Method, url: string, payload?: unknown, expected = 200) => {
    const res = await t.request({ method, url, headers: org.auth, ...(payload !== undefined ? { payload: payload as object } : {}) })
    assert.equal(res.status, expected, `${method} ${url}: ${res.raw.body}`)
    return res.body
  }
  const base = `/o/${org.id}`
  const priv = await call('POST', `${base}/protocols/http/connectors`, connectorBody({ name: `${name} private`, tags: { env: ['prod'] } }), 201)
  await call('PUT', `${base}/connectors/${priv.id}/categories`, { categories: ['CRM'] }, 204)
  for (const v of ['v1', 'v2']) {
    await call('POST', `${base}/connectors/${priv.id}/versions`, { name: v }, 201)
    await call('POST', `${base}/connectors/${priv.id}/versions/${v}/publish`)
  }
  await call('PUT', `${base}/connectors/${priv.id}/versions/v1`, { name: 'v1', isDefault: true })
  await call('POST', `${base}/connectors/${priv.id}/versions`, { name: 'draft' }, 201)
  const pub = await call('POST', `${base}/protocols/http/connectors`, connectorBody({ name: `${name} public`, public: true }), 201)
  await call('POST', `${base}/connectors/${pub.id}/versions`, { name: 'v1' }, 201)
  await call('POST', `${base}/connectors/${pub.id}/versions/v1/publish`)
  await call('POST', `${base}/connectors/${pub.id}/versions`, { name: 'draft' }, 201)
  return { ...org, privateId: priv.id, publicId: pub.id }
}

before(async () => {
  const key = await createSigningKey('ES256')
  idp = await startKeyServer([key])
  t = await buildAuthApp({ jwks: idp, security: { allowedOrigins: [ORIGIN] } })
  for (const name of ['Acme', 'Globex', 'Initech']) orgs.push(await setupOrg(name))
  for (const org of orgs) {
    const token = await mintToken(key, [org.id], { claims: { sub: `user-of-${org.name}` } })
    principals.push(
      { label: `${org.name} API key`, kind: 'api-key', org, headers: org.auth },
      { label: `${org.name} JWT`, kind: 'jwt', org, headers: bearer(token) },
      { label: `${org.name} cookie`, kind: 'cookie', org, headers: { ...sessionCookie(token), origin: ORIGIN } },
    )
  }
})

after(async () => {
  await t?.close()
  await idp?.stop()
})

/** Every row of every table (except settings and migrations), sorted, for exact before/after comparison. */
async function snapshot(): Promise<Record<string, string[]>> {
  const tables = (await t.db.kysely.introspection.getTables())
    .map((table) => table.name)
    .filter((name) => !/^kysely_|^registry_settings$/.test(name))
    .sort()
  const out: Record<string, string[]> = {}
  for (const name of tables) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rows = await (t.db.kysely as any).selectFrom(name).selectAll().execute()
    out[name] = (rows as unknown[]).map((r) => JSON.stringify(r)).sort()
  }
  return out
}

function orgProbes(org: string): Probe[] {
  return [
    { operationId: 'CreateHTTPConnector', method: 'POST', url: `/o/${org}/protocols/http/connectors`, payload: connectorBody({ name: 'intruder' }) },
    // The hidden route for other protocols of the reference.
    { operationId: '(other protocol)', method: 'POST', url: `/o/${org}/protocols/bigquery/connectors`, payload: {} },
    { operationId: 'ListConnectors', method: 'GET', url: `/o/${org}/connectors` },
    { operationId: 'ListConnectors', method: 'GET', url: `/o/${org}/connectors?first=100&name=private&tags=env:prod&categories=CRM&sort=name:asc` },
  ]
}

function connectorProbes(org: string, connectorId: string): Probe[] {
  const c = `/o/${org}/connectors/${connectorId}`
  const probes: Probe[] = [
    { operationId: 'GetConnector', method: 'GET', url: c },
    {
      operationId: 'UpdateConnector',
      method: 'PUT',
      url: c,
      payload: { id: connectorId, organisationId: org, name: 'stolen', protocol: 'http', baseUrl: 'https://evil.example.com', public: true },
    },
    { operationId: 'DeleteConnector', method: 'DELETE', url: c },
    { operationId: 'DeleteConnector', method: 'DELETE', url: `${c}?force=true` },
    { operationId: 'UpdateConnectorTags', method: 'PUT', url: `${c}/tags`, payload: { tags: { owned: ['yes'] } } },
    { operationId: 'UpdateConnectorCategories', method: 'PUT', url: `${c}/categories`, payload: { categories: ['ERP'] } },
    { operationId: 'CreateConnectorVersion', method: 'POST', url: `${c}/versions`, payload: { name: 'intruder' } },
    { operationId: 'CreateConnectorVersion', method: 'POST', url: `${c}/versions`, payload: { name: 'copy', fromVersion: 'v1' } },
    { operationId: 'ListConnectorVersions', method: 'GET', url: `${c}/versions` },
  ]
  for (const ref of ['v1', 'draft', 'latest', 'DEFAULT']) {
    const v = `${c}/versions/${ref}`
    probes.push(
      { operationId: 'GetConnectorVersion', method: 'GET', url: v },
      { operationId: 'UpdateConnectorVersion', method: 'PUT', url: v, payload: { name: ref === 'draft' ? 'renamed' : ref, description: 'x', isDefault: ref !== 'draft' } },
      { operationId: 'DeleteConnectorVersion', method: 'DELETE', url: `${v}?force=true` },
      { operationId: 'PublishConnector', method: 'POST', url: `${v}/publish` },
      { operationId: 'UnpublishConnector', method: 'POST', url: `${v}/unpublish` },
    )
  }
  return probes
}

function send(principal: Principal, probe: Probe): Promise<TestResponse> {
  return t.request({
    method: probe.method,
    url: probe.url,
    headers: principal.headers,
    ...(probe.payload !== undefined ? { payload: probe.payload as object } : {}),
  })
}

const others = (org: Org): Org[] => orgs.filter((o) => o.id !== org.id)

/**
 * The other two organisations of a principal and which of their connectors it probes: the next
 * organisation's private connector and the one after's public connector. Across the three
 * organisations every connector is probed by every principal kind, at a third of the requests.
 */
function foreignTargets(org: Org): { org: Org; connectorId: string }[] {
  const i = orgs.indexOf(org)
  const next = orgs[(i + 1) % orgs.length]!
  const afterNext = orgs[(i + 2) % orgs.length]!
  return [
    { org: next, connectorId: next.privateId },
    { org: afterNext, connectorId: afterNext.publicId },
  ]
}

let start: Record<string, string[]>

describe('every principal kind is a working principal of its own organisation', () => {
  test('the probes cover every connector and version operation', () => {
    const doc = t.app.swagger() as { paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>> }
    const expected = new Set<string>()
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const op of Object.values(operations)) {
        const tags = op.tags ?? []
        if (path.startsWith('/o/') && op.operationId && (tags.includes('connectors') || tags.includes('connector-version'))) expected.add(op.operationId)
      }
    }
    const covered = new Set([...orgProbes('x'), ...connectorProbes('x', 'y')].map((p) => p.operationId))
    for (const op of expected) assert.ok(covered.has(op), `${op} is not probed`)
    assert.ok(expected.size >= 14, `only ${expected.size} operations found`)
  })

  test('each principal reads its own connectors and versions and can write', async () => {
    for (const p of principals) {
      const get = await send(p, { operationId: 'GetConnector', method: 'GET', url: `/o/${p.org.id}/connectors/${p.org.privateId}` })
      assert.equal(get.status, 200, `${p.label}: ${get.raw.body}`)
      const version = await send(p, { operationId: 'GetConnectorVersion', method: 'GET', url: `/o/${p.org.id}/connectors/${p.org.privateId}/versions/draft` })
      assert.equal(version.status, 200, p.label)
      const created = await send(p, orgProbes(p.org.id)[0]!)
      assert.equal(created.status, 201, `${p.label}: ${created.raw.body}`)
      const deleted = await send(p, { operationId: 'DeleteConnector', method: 'DELETE', url: `/o/${p.org.id}/connectors/${created.body.id}` })
      assert.equal(deleted.status, 204, p.label)
    }
    start = await snapshot()
  })
})

describe('no principal reaches another organisation', () => {
  test('foreign organisation paths: one identical 403 whether or not the organisation or connector exists', async () => {
    let forbidden: string | undefined
    const check = (res: TestResponse, principal: Principal, probe: Probe) => {
      const label = `${principal.label}: ${probe.method} ${probe.url}`
      assert.equal(res.status, 403, `${label}: ${res.raw.body}`)
      forbidden ??= res.raw.body
      assert.equal(res.raw.body, forbidden, `${label}: the 403 body differs`)
      assert.equal(res.headers.etag, undefined, `${label}: an entity tag leaked`)
    }
    for (const principal of principals) {
      const nowhere = newId()
      const targets = [
        ...foreignTargets(principal.org).flatMap((target) => [...orgProbes(target.org.id), ...connectorProbes(target.org.id, target.connectorId)]),
        ...orgProbes(nowhere),
        ...connectorProbes(nowhere, newId()),
      ]
      for (const probe of targets) check(await send(principal, probe), principal, probe)
    }
    assert.equal(JSON.parse(forbidden!).code, 'forbidden')
  })

  test("another organisation's connector under your own path: 404, exactly like a connector that does not exist", async () => {
    for (const principal of principals) {
      const missing = new Map<string, string>()
      for (const probe of connectorProbes(principal.org.id, newId())) {
        const res = await send(principal, probe)
        assert.equal(res.status, 404, `${principal.label}: ${probe.method} ${probe.url}: ${res.raw.body}`)
        missing.set(`${probe.method} ${probe.url.replace(/\/connectors\/[^/?]+/, '')}`, res.raw.body)
      }
      for (const { connectorId } of foreignTargets(principal.org)) {
        for (const probe of connectorProbes(principal.org.id, connectorId)) {
          const res = await send(principal, probe)
          const label = `${principal.label}: ${probe.method} ${probe.url}`
          assert.equal(res.status, 404, `${label}: ${res.raw.body}`)
          assert.equal(res.raw.body, missing.get(`${probe.method} ${probe.url.replace(/\/connectors\/[^/?]+/, '')}`), `${label}: differs from a missing connector`)
          assert.equal(res.headers.etag, undefined, `${label}: an entity tag leaked`)
        }
      }
    }
  })

  test("lists never include another organisation's private connectors", async () => {
    const publicIds = new Set(orgs.map((o) => o.publicId))
    for (const principal of principals) {
      for (const query of ['', '?first=100', '?name=private', '?name=Globex', '?tags=env:prod', '?categories=CRM', '?sort=name:asc']) {
        const res = await send(principal, { operationId: 'ListConnectors', method: 'GET', url: `/o/${principal.org.id}/connectors${query}` })
        assert.equal(res.status, 200)
        for (const c of res.body.connectors as { id: string; organisationId: string }[]) {
          assert.equal(c.organisationId, principal.org.id, `${principal.label} ${query}: listed ${c.id}`)
        }
        assert.equal(res.body.totalCount, res.body.connectors.length)
      }
      const all = await send(principal, { operationId: 'ListConnectors', method: 'GET', url: `/o/${principal.org.id}/connectors?first=100` })
      assert.deepEqual(
        (all.body.connectors as { id: string }[]).map((c) => c.id).sort(),
        [principal.org.privateId, principal.org.publicId].sort(),
      )

      const versions = await send(principal, {
        operationId: 'ListConnectorVersions',
        method: 'GET',
        url: `/o/${principal.org.id}/connectors/${principal.org.privateId}/versions?first=100`,
      })
      assert.deepEqual((versions.body.items as { name: string }[]).map((v) => v.name).sort(), ['draft', 'v1', 'v2'])

      const pub = await send(principal, { operationId: 'ListPublicConnectors', method: 'GET', url: '/connectors?first=100' })
      assert.equal(pub.status, 200)
      const listed = pub.body.connectors as { id: string; public: boolean; versions: { name: string; publishedAt: string | null }[] }[]
      assert.deepEqual(listed.map((c) => c.id).sort(), [...publicIds].sort(), `${principal.label}: public listing`)
      for (const c of listed) {
        assert.deepEqual(c.versions.map((v) => v.name), ['v1'], `${principal.label}: drafts of public connectors are hidden`)
      }
      const filtered = await send(principal, { operationId: 'ListPublicConnectors', method: 'GET', url: '/connectors?first=100&name=private' })
      assert.deepEqual(filtered.body.connectors, [])
    }
  })

  test('nothing changed anywhere', async () => {
    assert.ok(start, 'the snapshot was taken')
    assert.deepEqual(await snapshot(), start)
  })
})

describe('read-scope API keys', () => {
  let readers: { org: Org; headers: Record<string, string> }[]
  let readOnlyBody: string | undefined

  before(async () => {
    readers = []
    for (const org of orgs) readers.push({ org, headers: (await t.apiKey(org.id, { scope: 'read', name: 'reader' })).auth })
  })

  test('every write route on the own organisation → 403, nothing changed', async () => {
    const before = await snapshot()
    for (const { org, headers } of readers) {
      const principal: Principal = { label: `${org.name} read key`, kind: 'api-key', org, headers }
      const writes = [...orgProbes(org.id), ...connectorProbes(org.id, org.privateId), ...connectorProbes(org.id, org.publicId)].filter(
        (p) => p.method !== 'GET',
      )
      assert.ok(writes.length >= 20)
      for (const probe of writes) {
        const res = await send(principal, probe)
        assert.equal(res.status, 403, `${principal.label}: ${probe.method} ${probe.url}: ${res.raw.body}`)
        assert.equal(res.body.code, 'forbidden')
        readOnlyBody ??= res.raw.body
        assert.equal(res.raw.body, readOnlyBody)
      }
    }
    assert.match(JSON.parse(readOnlyBody!).message, /read-only/)
    assert.deepEqual(await snapshot(), before)
  })

  test('every read route on the own organisation → 200', async () => {
    for (const { org, headers } of readers) {
      const principal: Principal = { label: `${org.name} read key`, kind: 'api-key', org, headers }
      const reads = [
        ...orgProbes(org.id),
        ...connectorProbes(org.id, org.privateId),
        { operationId: 'ListPublicConnectors', method: 'GET', url: '/connectors' } as Probe,
        { operationId: 'ListCategories', method: 'GET', url: '/categories' } as Probe,
      ].filter((p) => p.method === 'GET')
      assert.ok(reads.length >= 9)
      for (const probe of reads) {
        const res = await send(principal, probe)
        assert.equal(res.status, 200, `${principal.label}: ${probe.method} ${probe.url}: ${res.raw.body}`)
      }
    }
  })

  test('read-scope keys get the usual 403 on other organisations', async () => {
    const { org, headers } = readers[0]!
    const principal: Principal = { label: 'read key', kind: 'api-key', org, headers }
    const foreign = others(org)[0]!
    const res = await send(principal, { operationId: 'GetConnector', method: 'GET', url: `/o/${foreign.id}/connectors/${foreign.privateId}` })
    const own = await send(principals[0]!, { operationId: 'GetConnector', method: 'GET', url: `/o/${foreign.id}/connectors/${foreign.privateId}` })
    assert.equal(res.status, 403)
    assert.equal(res.body.code, 'forbidden')
    assert.equal(res.raw.body, own.raw.body)
  })
})
