import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { buildApp } from '../../src/app.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import { createDefinitions, jsonDefinition } from '../content/support.ts'

/**
 * GetConnector, the connector listings, GetConnectorVersion and ListConnectorVersions serve
 * cached representations, validated by the connector's revision. Every kind of change must reach
 * the next read: after each one, the cached app must answer exactly what a second app on the
 * same database answers with the cache turned off, and the connector's ETag must have moved.
 */

let t: TestApp
let uncached: FastifyInstance
before(async () => {
  t = await buildTestApp()
  uncached = await buildApp({ db: t.db, representationCacheBytes: 0 })
  await uncached.ready()
})
after(async () => {
  await uncached.close()
  await t.close()
})

const connectorUrl = (id: string) => `/o/${t.org.id}/connectors/${id}`

async function readBoth(url: string) {
  const cached = await t.request({ method: 'GET', url })
  const fresh = await uncached.inject({ method: 'GET', url, headers: t.org.auth })
  assert.equal(cached.status, fresh.statusCode, `${url}: ${fresh.body}`)
  return { cached, fresh: { body: JSON.parse(fresh.body), etag: fresh.headers.etag } }
}

/** Every cached read of the connector, on both apps: status, body and ETag must agree. */
async function assertReadsAgree(connectorId: string, what: string): Promise<void> {
  const base = connectorUrl(connectorId)
  const urls = [
    base,
    `/o/${t.org.id}/connectors?first=100`,
    `${base}/versions?first=100`,
    `${base}/versions?first=1`,
    `${base}/versions/latest`,
    `${base}/versions/default`,
    `${base}/versions/1.0.0`,
    `${base}/versions/1.1.0`,
  ]
  const next = (await readBoth(`${base}/versions?first=1`)).fresh.body.next
  if (next) urls.push(`${base}/versions?first=1&after=${encodeURIComponent(next)}`)
  for (const url of urls) {
    const { cached, fresh } = await readBoth(url)
    assert.deepEqual(cached.body, fresh.body, `${what}: ${url}`)
    assert.equal(cached.headers.etag, fresh.etag, `${what}: ETag of ${url}`)
    // The gzip forms are cached too (by their bytes): they must agree as well.
    const gzip = await t.request({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } })
    assert.deepEqual(gzip.body, fresh.body, `${what}: gzip ${url}`)
    const compressed = gzip.raw.headers['content-encoding'] === 'gzip'
    assert.equal(gzip.headers.etag, compressed && fresh.etag ? `${String(fresh.etag).slice(0, -1)}-gzip"` : fresh.etag, `${what}: gzip ETag of ${url}`)
  }
}

async function revisionOf(id: string): Promise<number> {
  const row = await t.db.kysely.selectFrom('connectors').select('revision').where('id', '=', id).executeTakeFirstOrThrow()
  return row.revision
}

test('every change to a connector, its labels, versions, pointers or content reaches the next read', async () => {
  const c = await createConnector(t, { name: 'Cached' })
  const url = connectorUrl(c.id)
  const versionUrl = (name: string) => `${url}/versions/${name}`
  const changes: [string, () => Promise<unknown>][] = [
    ['UpdateConnector', () => t.request({ method: 'PUT', url, payload: { id: c.id, organisationId: t.org.id, name: 'Renamed', protocol: 'http', baseUrl: 'https://b.example.com' } })],
    ['UpdateConnectorTags', () => t.request({ method: 'PUT', url: `${url}/tags`, payload: { tags: { env: ['prod'] } } })],
    ['UpdateConnectorCategories', () => t.request({ method: 'PUT', url: `${url}/categories`, payload: { categories: ['CRM'] } })],
    ['CreateConnectorVersion', () => createVersion(t, c.id, '1.0.0')],
    ['CreateConnectorVersion fromVersion', () => createVersion(t, c.id, '1.1.0', { fromVersion: '1.0.0' })],
    ['UpdateConnectorVersion', () => t.request({ method: 'PUT', url: versionUrl('1.0.0'), payload: { name: '1.0.0', description: 'changed' } })],
    ['content of a draft', () => createDefinitions(t, c.id, '1.0.0', [jsonDefinition('Thing', { type: 'object' })])],
    ['PublishConnectorVersion', () => publish(t, c.id, '1.0.0')],
    ['PublishConnectorVersion (new latest)', () => publish(t, c.id, '1.1.0')],
    ['pin default', () => t.request({ method: 'PUT', url: versionUrl('1.0.0'), payload: { name: '1.0.0', description: 'changed', isDefault: true } })],
    ['unpin default', () => t.request({ method: 'PUT', url: versionUrl('1.0.0'), payload: { name: '1.0.0', description: 'changed', isDefault: false } })],
    ['UnpublishConnectorVersion', () => t.request({ method: 'POST', url: `${versionUrl('1.1.0')}/unpublish` })],
    ['DeleteConnectorVersion', () => t.request({ method: 'DELETE', url: versionUrl('1.1.0') })],
  ]
  await assertReadsAgree(c.id, 'initially')
  let previous = await readBoth(url)
  for (const [what, change] of changes) {
    const revisionBefore = await revisionOf(c.id)
    const res = (await change()) as { status?: number; body?: unknown } | undefined
    if (res && typeof res.status === 'number') assert.ok(res.status < 300, `${what}: ${res.status} ${JSON.stringify(res.body)}`)
    assert.ok((await revisionOf(c.id)) > revisionBefore, `${what}: the revision moved`)
    await assertReadsAgree(c.id, what)
    const now = await readBoth(url)
    assert.notEqual(now.cached.headers.etag, previous.cached.headers.etag, `${what}: the ETag moved`)
    previous = now
  }
})

test('a read is answered from the cache while the revision stands, and rebuilt when it moves', async () => {
  const c = await createConnector(t, { name: 'Original' })
  const url = connectorUrl(c.id)
  const first = await t.request({ method: 'GET', url })
  // Behind the registry's back and without moving the revision: the cached representation stays.
  await t.db.kysely.updateTable('connectors').set({ name: 'Changed behind its back' }).where('id', '=', c.id).execute()
  const cached = await t.request({ method: 'GET', url })
  assert.equal(cached.body.name, 'Original')
  assert.equal(cached.headers.etag, first.headers.etag)
  await t.db.kysely.updateTable('connectors').set({ revision: sql`revision + 1` }).where('id', '=', c.id).execute()
  const rebuilt = await t.request({ method: 'GET', url })
  assert.equal(rebuilt.body.name, 'Changed behind its back')
  assert.notEqual(rebuilt.headers.etag, first.headers.etag)
})

test('a version and a version page are answered from the cache while the connector revision stands', async () => {
  const c = await createConnector(t)
  await createVersion(t, c.id, 'v1')
  const versionUrl = `${connectorUrl(c.id)}/versions/v1`
  assert.equal((await t.request({ method: 'PUT', url: versionUrl, payload: { name: 'v1', description: 'original' } })).status, 200)
  const pageUrl = `${connectorUrl(c.id)}/versions?first=10`
  assert.equal((await t.request({ method: 'GET', url: versionUrl })).body.description, 'original')
  assert.equal((await t.request({ method: 'GET', url: pageUrl })).body.items[0].description, 'original')
  await t.db.kysely.updateTable('connector_versions').set({ description: 'behind its back' }).where('connector_id', '=', c.id).execute()
  assert.equal((await t.request({ method: 'GET', url: versionUrl })).body.description, 'original')
  assert.equal((await t.request({ method: 'GET', url: pageUrl })).body.items[0].description, 'original')
  await t.db.kysely.updateTable('connectors').set({ revision: sql`revision + 1` }).where('id', '=', c.id).execute()
  assert.equal((await t.request({ method: 'GET', url: versionUrl })).body.description, 'behind its back')
  assert.equal((await t.request({ method: 'GET', url: pageUrl })).body.items[0].description, 'behind its back')
})

test('the public catalogue and the owner see their own views of the same connector', async () => {
  const c = await createConnector(t, { name: 'Shared view', public: true })
  await createVersion(t, c.id, 'draft')
  await createVersion(t, c.id, 'released')
  await publish(t, c.id, 'released')
  const other = await t.newOrg('other')
  const names = (connector: { versions: { name: string }[] }) => connector.versions.map((v) => v.name).sort()
  for (let round = 0; round < 2; round++) {
    const publicPage = await t.request({ method: 'GET', url: '/connectors?first=100', as: other })
    assert.equal(publicPage.status, 200)
    const seen = publicPage.body.connectors.find((x: { id: string }) => x.id === c.id)
    assert.deepEqual(names(seen), ['released'])
    const own = await t.request({ method: 'GET', url: connectorUrl(c.id) })
    assert.deepEqual(names(own.body), ['draft', 'released'])
  }
})

test('GetConnector of a deleted connector is 404 even with its representation cached', async () => {
  const c = await createConnector(t)
  assert.equal((await t.request({ method: 'GET', url: connectorUrl(c.id) })).status, 200)
  assert.equal((await t.request({ method: 'DELETE', url: connectorUrl(c.id) })).status, 204)
  const gone = await t.request({ method: 'GET', url: connectorUrl(c.id) })
  assert.equal(gone.status, 404)
  assert.equal(gone.body.code, 'connector_not_found')
})

test('If-None-Match against a cached representation answers 304 with the same ETag', async () => {
  const c = await createConnector(t)
  const url = connectorUrl(c.id)
  const first = await t.request({ method: 'GET', url })
  const again = await t.request({ method: 'GET', url, headers: { 'if-none-match': String(first.headers.etag) } })
  assert.equal(again.status, 304)
  assert.equal(again.headers.etag, first.headers.etag)
  assert.equal(again.raw.body, '')
})

test('REPRESENTATION_CACHE_MB sizes the cache: 32 MB by default, 0 turns it off, nonsense stops the start', () => {
  assert.equal(loadConfig({}).representationCacheMb, 32)
  assert.equal(loadConfig({ REPRESENTATION_CACHE_MB: '0' }).representationCacheMb, 0)
  assert.throws(() => loadConfig({ REPRESENTATION_CACHE_MB: 'lots' }), ConfigError)
  assert.throws(() => loadConfig({ REPRESENTATION_CACHE_MB: '5000' }), ConfigError)
})
