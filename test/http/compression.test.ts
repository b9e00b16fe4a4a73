import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'

/**
 * Responses large enough to gain go out gzip-compressed to clients that accept it; everything
 * else about them (status, JSON, ETag semantics, conditional requests) stays as it is.
 */

let t: TestApp
let uncompressed: FastifyInstance
let big: { id: string }
const GZIP = { 'accept-encoding': 'gzip, deflate, br' }

before(async () => {
  t = await buildTestApp()
  // With no cache for bodies there is nothing to compress once: responses go out as they are.
  uncompressed = await buildApp({ db: t.db, representationCacheBytes: 0 })
  await uncompressed.ready()
  big = await bigConnector('Big connector', { public: true })
  // Its public view lists only published versions: enough of them to be compressed too.
  for (let i = 0; i < 8; i++) await publish(t, big.id, `1.${i}.0`)
})
after(async () => {
  await uncompressed.close()
  await t.close()
})

const connectorUrl = (id: string) => `/o/${t.org.id}/connectors/${id}`

/** A connector whose body is above the compression threshold (~2.5 KB with its 12 versions). */
async function bigConnector(name: string, overrides: Record<string, unknown> = {}): Promise<{ id: string; organisationId: string; protocol: string; baseUrl: string }> {
  const connector = await createConnector(t, { name, ...overrides })
  for (let i = 0; i < 12; i++) await createVersion(t, connector.id, `1.${i}.0`, { description: `Release 1.${i}.0 with some notes` })
  return connector
}

async function identityAndGzip(url: string) {
  const identity = await t.app.inject({ method: 'GET', url, headers: t.org.auth })
  const gzip = await t.app.inject({ method: 'GET', url, headers: { ...t.org.auth, ...GZIP } })
  return { identity, gzip }
}

describe('gzip responses', () => {
  test('GetConnector: the same bytes, gzip-compressed, with Vary and an ETag of their own', async () => {
    const { identity, gzip } = await identityAndGzip(connectorUrl(big.id))
    assert.equal(identity.statusCode, 200)
    assert.equal(identity.headers['content-encoding'], undefined)
    assert.equal(identity.headers.vary, 'Accept-Encoding')
    assert.ok(identity.rawPayload.byteLength > 1024, 'the fixture is above the threshold')

    assert.equal(gzip.statusCode, 200)
    assert.equal(gzip.headers['content-encoding'], 'gzip')
    assert.equal(gzip.headers.vary, 'Accept-Encoding')
    assert.match(String(gzip.headers['content-type']), /^application\/json/)
    assert.ok(gzip.rawPayload.byteLength < identity.rawPayload.byteLength / 2)
    assert.deepEqual(gunzipSync(gzip.rawPayload), identity.rawPayload)
    assert.equal(gzip.headers.etag, `${String(identity.headers.etag).slice(0, -1)}-gzip"`)
    // The helper decodes it and checks it against both contracts.
    const checked = await t.request({ method: 'GET', url: connectorUrl(big.id), headers: GZIP })
    assert.equal(checked.body.id, big.id)
  })

  test('Accept-Encoding is negotiated: q-values, *, identity, unknown codings, case', async () => {
    const cases: [string, boolean][] = [
      ['gzip', true],
      ['GZIP', true],
      ['*', true],
      ['br;q=1, gzip;q=0.5', true],
      ['gzip;q=0, *', false],
      ['gzip;q=0.5, identity', false],
      ['identity', false],
      ['br', false],
      ['deflate', false],
      ['', false],
    ]
    for (const [header, gzipped] of cases) {
      const res = await t.app.inject({ method: 'GET', url: connectorUrl(big.id), headers: { ...t.org.auth, 'accept-encoding': header } })
      assert.equal(res.statusCode, 200, header)
      assert.equal(res.headers['content-encoding'], gzipped ? 'gzip' : undefined, header)
    }
  })

  test('ListConnectors: a page spliced from cached members decodes to the identity page (CRC and size checked)', async () => {
    for (let i = 0; i < 3; i++) await createConnector(t, { name: `Page filler ${i}` })
    for (const url of [`/o/${t.org.id}/connectors?first=2`, `/o/${t.org.id}/connectors?first=100`, '/connectors?first=100']) {
      const { identity, gzip } = await identityAndGzip(url)
      assert.equal(gzip.statusCode, 200, url)
      assert.equal(gzip.headers['content-encoding'], 'gzip', url)
      assert.equal(gzip.headers.vary, 'Accept-Encoding')
      assert.equal(gzip.headers.etag, undefined)
      assert.deepEqual(gunzipSync(gzip.rawPayload).toString(), identity.body, url)
      // The identity page, written from its pieces, still declares its length: no chunked frames.
      assert.equal(identity.headers['content-length'], String(identity.rawPayload.byteLength), url)
      assert.equal(identity.headers['transfer-encoding'], undefined, url)
    }
    // A cursor's page too (its head carries the cursors).
    const first = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?first=2` })
    const next = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?first=2&after=${encodeURIComponent(first.body.next)}`, headers: GZIP })
    assert.equal(next.raw.headers['content-encoding'], 'gzip')
    assert.equal(next.body.connectors.length, 2)
    assert.ok(next.body.prev)
  })

  test('ListConnectorVersions and GetConnectorVersion: compressed when above 1 KiB, left alone below', async () => {
    const page = await identityAndGzip(`${connectorUrl(big.id)}/versions?first=10`)
    assert.equal(page.gzip.headers['content-encoding'], 'gzip')
    assert.deepEqual(gunzipSync(page.gzip.rawPayload), page.identity.rawPayload)

    const version = await identityAndGzip(`${connectorUrl(big.id)}/versions/latest`)
    assert.ok(version.identity.rawPayload.byteLength < 1024)
    assert.equal(version.gzip.headers['content-encoding'], undefined)
    assert.equal(version.gzip.headers.vary, undefined)
    assert.equal(version.gzip.headers.etag, version.identity.headers.etag)
    assert.deepEqual(version.gzip.rawPayload, version.identity.rawPayload)

    const small = await createConnector(t, { name: 'Small' })
    const smallPage = await identityAndGzip(`${connectorUrl(small.id)}/versions?first=10`)
    assert.equal(smallPage.gzip.headers['content-encoding'], undefined)
  })

  test('If-None-Match with either form’s tag → 304 carrying the tag of the form the client accepts', async () => {
    const { identity, gzip } = await identityAndGzip(connectorUrl(big.id))
    for (const tag of [identity.headers.etag, gzip.headers.etag]) {
      for (const accept of [{}, GZIP]) {
        const res = await t.app.inject({ method: 'GET', url: connectorUrl(big.id), headers: { ...t.org.auth, ...accept, 'if-none-match': String(tag) } })
        assert.equal(res.statusCode, 304, `${String(tag)} ${JSON.stringify(accept)}`)
        assert.equal(res.body, '')
        assert.equal(res.headers.etag, 'accept-encoding' in accept ? gzip.headers.etag : identity.headers.etag)
        assert.equal(res.headers.vary, 'Accept-Encoding')
      }
    }
  })

  test('If-Match takes the gzip form’s tag as the current state; a stale one of either form fails', async () => {
    const c = await bigConnector('Conditional')
    const read = await t.app.inject({ method: 'GET', url: connectorUrl(c.id), headers: { ...t.org.auth, ...GZIP } })
    const gzipTag = String(read.headers.etag)
    assert.match(gzipTag, /-gzip"$/)
    const body = { id: c.id, organisationId: c.organisationId, name: 'Renamed', protocol: c.protocol, baseUrl: c.baseUrl }
    const ok = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': gzipTag }, payload: body })
    assert.equal(ok.status, 200)
    const stale = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': gzipTag }, payload: { ...body, name: 'Again' } })
    assert.equal(stale.status, 412)
    assert.equal((await t.request({ method: 'GET', url: connectorUrl(c.id) })).body.name, 'Renamed')
    // A tag that merely ends like a gzip form's names nothing.
    const forged = await t.request({ method: 'PUT', url: connectorUrl(c.id), headers: { 'if-match': '"nope-gzip"' }, payload: { ...body, name: 'Forged' } })
    assert.equal(forged.status, 412)
  })

  test('a change reaches the next gzip response', async () => {
    const before = await t.request({ method: 'GET', url: connectorUrl(big.id), headers: GZIP })
    await t.request({ method: 'PUT', url: `${connectorUrl(big.id)}/versions/1.9.0`, payload: { name: '1.9.0', description: 'changed after compression' } })
    const after = await t.request({ method: 'GET', url: connectorUrl(big.id), headers: GZIP })
    assert.equal(after.raw.headers['content-encoding'], 'gzip')
    assert.notEqual(after.headers.etag, before.headers.etag)
    assert.equal(after.body.versions.find((v: { name: string }) => v.name === '1.9.0').description, 'changed after compression')
    const versions = await t.request({ method: 'GET', url: `${connectorUrl(big.id)}/versions?first=20`, headers: GZIP })
    assert.equal(versions.raw.headers['content-encoding'], 'gzip')
    assert.equal(versions.body.items.find((v: { name: string }) => v.name === '1.9.0').description, 'changed after compression')
    const page = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?first=100`, headers: GZIP })
    const listed = page.body.connectors.find((c: { id: string }) => c.id === big.id)
    assert.equal(listed.versions.find((v: { name: string }) => v.name === '1.9.0').description, 'changed after compression')
  })

  test('with the body cache off, nothing is compressed', async () => {
    const res = await uncompressed.inject({ method: 'GET', url: connectorUrl(big.id), headers: { ...t.org.auth, ...GZIP } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(res.headers.vary, undefined)
    assert.equal(JSON.parse(res.body).id, big.id)
  })
})
