import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import {
  assertError,
  connectorUpdatedAt,
  getVersion,
  ISO_MS,
  pinnedId,
  putVersion,
  tick,
  versionRow,
  versionRows,
  versionsUrl,
} from './support.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

function create(connectorId: string, payload: Record<string, unknown>) {
  return t.request({ method: 'POST', url: versionsUrl(t, connectorId), payload })
}

describe('CreateConnectorVersion', () => {
  test('creates a draft: 201, publishedAt null, not latest or default, no messages, stored as such', async () => {
    const connector = await createConnector(t)
    const res = await create(connector.id, { name: '1.0.0' })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.match(res.body.id, /^[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.equal(res.body.name, '1.0.0')
    assert.equal(res.body.publishedAt, null)
    assert.equal(res.body.isLatest, false)
    assert.equal(res.body.isDefault, false)
    assert.deepEqual(res.body.messages, [])
    assert.equal('description' in res.body, false)
    assert.match(res.body.createdAt, ISO_MS)
    assert.equal(res.body.createdAt, res.body.updatedAt)
    assert.match(String(res.headers.etag), /^"[^"]+"$/)

    const row = await versionRow(t, connector.id, '1.0.0')
    assert.ok(row)
    assert.equal(row.id, res.body.id)
    assert.equal(row.published_at, null)
    assert.equal(row.description, null)
    assert.equal(row.created_at, res.body.createdAt)
    assert.equal(await pinnedId(t, connector.id), undefined)

    const got = await getVersion(t, connector.id, '1.0.0')
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, res.body)
    assert.equal(got.headers.etag, res.headers.etag)
  })

  test('each reserved name, in any case, is 400 reserved_version_name and nothing is stored', async () => {
    const connector = await createConnector(t)
    for (const name of ['latest', 'LATEST', 'Latest', 'lAtEsT', 'default', 'DeFaUlT', 'DEFAULT', 'Default']) {
      const res = await create(connector.id, { name })
      assertError(res, 400, 'reserved_version_name', ['name'])
    }
    assert.deepEqual(await versionRows(t, connector.id), [])
  })

  test('names close to the reserved ones are fine', async () => {
    const connector = await createConnector(t)
    for (const name of ['latest2', 'default-1', ' latest', 'the latest']) {
      const res = await create(connector.id, { name })
      assert.equal(res.status, 201, `${JSON.stringify(name)}: ${JSON.stringify(res.body)}`)
      const got = await getVersion(t, connector.id, name)
      assert.equal(got.status, 200)
      assert.equal(got.body.id, res.body.id)
    }
  })

  test('invalid names are 400 invalid_version_name and nothing is stored', async () => {
    const connector = await createConnector(t)
    const invalid = ['', 'a'.repeat(129), '€'.repeat(129), 'a/b', '/', 'v1/', 'line\nbreak', 'nul\u0000byte', 'tab\tx', 'del\u007f', '.', '..']
    for (const name of invalid) {
      const res = await create(connector.id, { name })
      assertError(res, 400, 'invalid_version_name', ['name'])
    }
    assert.deepEqual(await versionRows(t, connector.id), [])
  })

  test('a name of exactly 128 characters is accepted and addressable', async () => {
    const connector = await createConnector(t)
    for (const name of ['a'.repeat(128), '🚀'.repeat(128)]) {
      const res = await create(connector.id, { name })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.name, name)
      const got = await getVersion(t, connector.id, name)
      assert.equal(got.status, 200)
      assert.equal(got.body.id, res.body.id)
    }
  })

  test('names of the wrong type are 400 validation_failed', async () => {
    const connector = await createConnector(t)
    assertError(await create(connector.id, {}), 400, 'validation_failed', ['name'])
    assertError(await create(connector.id, { name: 12 }), 400, 'validation_failed', ['name'])
    assertError(await create(connector.id, { name: null }), 400, 'validation_failed', ['name'])
    assert.deepEqual(await versionRows(t, connector.id), [])
  })

  test('unicode and URL-special names work and are addressable through a percent-encoded path', async () => {
    const connector = await createConnector(t)
    for (const name of ['версия 2', '日本語バージョン', 'ünïcödé-1.0', '🚀 rocket', 'a b', '100%', 'what?', 'hash#1', 'a+b', '...', '.hidden']) {
      const res = await create(connector.id, { name })
      assert.equal(res.status, 201, `${name}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.name, name)
      const row = await versionRow(t, connector.id, name)
      assert.equal(row?.id, res.body.id, name)
      const got = await getVersion(t, connector.id, name)
      assert.equal(got.status, 200, `${name}: ${JSON.stringify(got.body)}`)
      assert.equal(got.body.id, res.body.id)
      assert.equal(got.body.name, name)
    }
  })

  test('a duplicate name is 409 version_name_conflict, also when the existing one is published', async () => {
    const connector = await createConnector(t)
    const first = await createVersion(t, connector.id, 'v1')
    assertError(await create(connector.id, { name: 'v1' }), 409, 'version_name_conflict')
    await publish(t, connector.id, 'v1')
    assertError(await create(connector.id, { name: 'v1', fromVersion: 'v1' }), 409, 'version_name_conflict')
    const rows = await versionRows(t, connector.id)
    assert.deepEqual(rows.map((r) => r.id), [first.id])
  })

  test('the same name may be used by versions of different connectors', async () => {
    const a = await createConnector(t)
    const b = await createConnector(t)
    const va = await createVersion(t, a.id, 'shared')
    const vb = await createVersion(t, b.id, 'shared')
    assert.notEqual(va.id, vb.id)
    assert.equal((await getVersion(t, a.id, 'shared')).body.id, va.id)
    assert.equal((await getVersion(t, b.id, 'shared')).body.id, vb.id)
  })

  test('fromVersion copies the description of the source version (by name)', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    assert.equal((await putVersion(t, connector.id, 'v1', { name: 'v1', description: 'first cut' })).status, 200)
    const res = await create(connector.id, { name: 'v2', fromVersion: 'v1' })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.description, 'first cut')
    assert.equal(res.body.publishedAt, null)
    assert.notEqual(res.body.id, (await getVersion(t, connector.id, 'v1')).body.id)
    assert.equal((await versionRow(t, connector.id, 'v2'))?.description, 'first cut')
    // The source is untouched.
    assert.equal((await versionRow(t, connector.id, 'v1'))?.description, 'first cut')
  })

  test('fromVersion without a description copies "no description"', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const res = await create(connector.id, { name: 'v2', fromVersion: 'v1' })
    assert.equal(res.status, 201)
    assert.equal('description' in res.body, false)
    assert.equal((await versionRow(t, connector.id, 'v2'))?.description, null)
  })

  test('fromVersion accepts the latest and default aliases in any case', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await putVersion(t, connector.id, 'v1', { name: 'v1', description: 'one' })
    await publish(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await putVersion(t, connector.id, 'v2', { name: 'v2', description: 'two' })
    await publish(t, connector.id, 'v2')
    // Pin v1 so that latest (v2) and default (v1) differ.
    assert.equal((await putVersion(t, connector.id, 'v1', { name: 'v1', description: 'one', isDefault: true })).status, 200)

    const fromLatest = await create(connector.id, { name: 'v3', fromVersion: 'LATEST' })
    assert.equal(fromLatest.status, 201, JSON.stringify(fromLatest.body))
    assert.equal(fromLatest.body.description, 'two')
    const fromDefault = await create(connector.id, { name: 'v4', fromVersion: 'Default' })
    assert.equal(fromDefault.status, 201, JSON.stringify(fromDefault.body))
    assert.equal(fromDefault.body.description, 'one')
  })

  test('an unknown fromVersion is 400 unknown_version and nothing is stored', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'draft')
    const before = await versionRows(t, connector.id)
    assertError(await create(connector.id, { name: 'v2', fromVersion: 'nope' }), 400, 'unknown_version', ['fromVersion'])
    // The aliases resolve to nothing while no version is published.
    assertError(await create(connector.id, { name: 'v2', fromVersion: 'latest' }), 400, 'unknown_version', ['fromVersion'])
    assertError(await create(connector.id, { name: 'v2', fromVersion: 'default' }), 400, 'unknown_version', ['fromVersion'])
    // A version of another connector is not a source.
    const other = await createConnector(t)
    await createVersion(t, other.id, 'elsewhere')
    assertError(await create(connector.id, { name: 'v2', fromVersion: 'elsewhere' }), 400, 'unknown_version', ['fromVersion'])
    assert.deepEqual(await versionRows(t, connector.id), before)
  })

  test('the name is checked even with fromVersion', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    assertError(await create(connector.id, { name: 'Latest', fromVersion: 'v1' }), 400, 'reserved_version_name', ['name'])
    assertError(await create(connector.id, { name: 'a/b', fromVersion: 'v1' }), 400, 'invalid_version_name', ['name'])
    assert.equal((await versionRows(t, connector.id)).length, 1)
  })

  test("creating a version bumps the connector's updatedAt; rejected creates do not", async () => {
    const connector = await createConnector(t)
    const initial = await connectorUpdatedAt(t, connector.id)
    assert.equal(initial, connector.updatedAt)
    await tick()
    await create(connector.id, { name: 'latest' })
    await create(connector.id, { name: 'x', fromVersion: 'missing' })
    assert.equal(await connectorUpdatedAt(t, connector.id), initial)
    const res = await create(connector.id, { name: 'v1' })
    assert.equal(res.status, 201)
    const bumped = await connectorUpdatedAt(t, connector.id)
    assert.ok(bumped > initial, `${bumped} > ${initial}`)
    const got = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${connector.id}` })
    assert.equal(got.status, 200)
    assert.equal(got.body.updatedAt, bumped)
    assert.deepEqual(
      got.body.versions.map((v: { name: string }) => v.name),
      ['v1'],
    )
  })

  test('unknown properties are ignored and never stored', async () => {
    const connector = await createConnector(t)
    const res = await create(connector.id, { name: 'v1', publishedAt: '2020-01-01T00:00:00Z', isDefault: true, description: 'x' })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.publishedAt, null)
    assert.equal(res.body.isDefault, false)
    const row = await versionRow(t, connector.id, 'v1')
    assert.equal(row?.published_at, null)
    assert.equal(row?.description, null, 'description is not part of ConnectorVersionCreate')
    assert.equal('description' in res.body, false)
    assert.equal(await pinnedId(t, connector.id), undefined)
  })

  test('creating under an unknown connector is 404 connector_not_found', async () => {
    const res = await create('01J9ZQ00000000000000000000', { name: 'v1' })
    assertError(res, 404, 'connector_not_found')
  })
})
