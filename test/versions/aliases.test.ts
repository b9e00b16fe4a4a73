import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { touchConnector } from '../../src/connectors/connectors.repository.ts'
import { writeTransaction } from '../../src/db/database.ts'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import {
  assertError,
  assertFlags,
  assertPointers,
  deleteVersion,
  getVersion,
  pinnedId,
  postAction,
  putVersion,
  versionRow,
} from './support.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

/** Pins a published version as default through UpdateConnectorVersion. */
async function pin(connectorId: string, name: string): Promise<void> {
  const res = await putVersion(t, connectorId, name, { name, isDefault: true })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.isDefault, true)
}

describe('alias resolution', () => {
  test('latest and default are 404 while the connector has no versions', async () => {
    const connector = await createConnector(t)
    await assertPointers(t, connector.id, { latest: null, default: null })
  })

  test('latest and default are 404 while every version is a draft', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await assertPointers(t, connector.id, { latest: null, default: null })
  })

  test('after the first publish both aliases resolve to it', async () => {
    const connector = await createConnector(t)
    const v1 = await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'draft')
    const published = await publish(t, connector.id, 'v1')
    assert.equal(published.id, v1.id)
    assert.equal(published.isLatest, true)
    assert.equal(published.isDefault, true)
    await assertPointers(t, connector.id, { latest: 'v1', default: 'v1' })
    const viaAlias = await getVersion(t, connector.id, 'Latest')
    const viaName = await getVersion(t, connector.id, 'v1')
    assert.deepEqual(viaAlias.body, viaName.body)
    assert.equal(viaAlias.headers.etag, viaName.headers.etag)
  })

  test('publishing a second version moves latest and the unpinned default', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    const v2 = await publish(t, connector.id, 'v2')
    assert.equal(v2.isLatest, true)
    assert.equal(v2.isDefault, true)
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })
    const v1 = await getVersion(t, connector.id, 'v1')
    assert.equal(v1.body.isLatest, false)
    assert.equal(v1.body.isDefault, false)
    assert.equal(await pinnedId(t, connector.id), undefined)
  })

  test('latest follows publish order, not creation order or name', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'b-newer')
    await createVersion(t, connector.id, 'a-older')
    await publish(t, connector.id, 'a-older')
    await publish(t, connector.id, 'b-newer')
    await assertPointers(t, connector.id, { latest: 'b-newer', default: 'b-newer' })
    // Unpublishing and republishing the older one makes it the latest again.
    assert.equal((await postAction(t, connector.id, 'a-older', 'unpublish')).status, 200)
    await publish(t, connector.id, 'a-older')
    await assertPointers(t, connector.id, { latest: 'a-older', default: 'a-older' })
  })

  test('latest follows publish order when the clock has not moved past the last publish', async () => {
    // Two publishes within one millisecond, or a clock stepped back: as if the first one's
    // publishedAt were later than the second one's clock. Creation order must not break the tie.
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'b-first')
    await createVersion(t, connector.id, 'a-second')
    await publish(t, connector.id, 'b-first')
    const ahead = '2999-01-01T00:00:00.000Z'
    await writeTransaction(t.db, async (tx) => {
      await tx.kysely.updateTable('connector_versions').set({ published_at: ahead }).where('connector_id', '=', connector.id).where('name', '=', 'b-first').execute()
      await touchConnector(tx, connector.id)
    })
    const second = await publish(t, connector.id, 'a-second')
    assert.equal(second.publishedAt, '2999-01-01T00:00:00.001Z')
    assert.equal(second.isLatest, true)
    await assertPointers(t, connector.id, { latest: 'a-second', default: 'a-second' })
    assert.equal((await versionRow(t, connector.id, 'a-second'))?.published_at, '2999-01-01T00:00:00.001Z')
  })

  test('a pinned default stays put when newer versions are published', async () => {
    const connector = await createConnector(t)
    const v1 = await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await createVersion(t, connector.id, 'v3')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    await pin(connector.id, 'v1')
    assert.equal(await pinnedId(t, connector.id), v1.id)
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v1' })

    const res = await postAction(t, connector.id, 'v3', 'publish')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.version.isLatest, true)
    assert.equal(res.body.version.isDefault, false)
    assert.ok(res.body.version.messages.length > 0, 'publish tells that the default did not move')
    assert.equal(await pinnedId(t, connector.id), v1.id)
    await assertPointers(t, connector.id, { latest: 'v3', default: 'v1' })
  })

  test('unpublishing the latest falls back to the previously published version', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await createVersion(t, connector.id, 'v3')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    await publish(t, connector.id, 'v3')
    const res = await postAction(t, connector.id, 'latest', 'unpublish')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.version.name, 'v3')
    assert.equal(res.body.version.publishedAt, null)
    assert.equal(res.body.version.isLatest, false)
    assert.equal(res.body.version.isDefault, false)
    assert.equal((await versionRow(t, connector.id, 'v3'))?.published_at, null)
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })

    assert.equal((await postAction(t, connector.id, 'v2', 'unpublish')).status, 200)
    await assertPointers(t, connector.id, { latest: 'v1', default: 'v1' })
    assert.equal((await postAction(t, connector.id, 'v1', 'unpublish')).status, 200)
    await assertPointers(t, connector.id, { latest: null, default: null })
  })

  test('unpublishing a version that is not latest leaves the pointers alone', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    const res = await postAction(t, connector.id, 'v1', 'unpublish')
    assert.equal(res.status, 200)
    assert.deepEqual(res.body.version.messages, [])
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })
  })

  test('unpublishing the pinned default clears the pin with a warning; default falls back to latest', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    await pin(connector.id, 'v1')
    const res = await postAction(t, connector.id, 'DEFAULT', 'unpublish')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.version.name, 'v1')
    assert.equal(res.body.version.publishedAt, null)
    assert.equal(res.body.version.isDefault, false)
    const warnings = res.body.version.messages.filter((m: { severity: string }) => m.severity === 'warning')
    assert.equal(warnings.length, 1, JSON.stringify(res.body.version.messages))
    assert.equal(await pinnedId(t, connector.id), undefined)
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })

    // Republishing v1 makes it latest (and default), but does not restore the pin.
    await publish(t, connector.id, 'v1')
    assert.equal(await pinnedId(t, connector.id), undefined)
    await assertPointers(t, connector.id, { latest: 'v1', default: 'v1' })
  })

  test('unpublishing the only published, pinned version leaves no default', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await publish(t, connector.id, 'v1')
    await pin(connector.id, 'v1')
    const res = await postAction(t, connector.id, 'v1', 'unpublish')
    assert.equal(res.status, 200)
    assert.equal(res.body.version.messages.filter((m: { severity: string }) => m.severity === 'warning').length, 1)
    assert.equal(await pinnedId(t, connector.id), undefined)
    await assertPointers(t, connector.id, { latest: null, default: null })
  })

  test('deleting the pinned version (force) clears the pin; default falls back to latest', async () => {
    const connector = await createConnector(t)
    const v1 = await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    await pin(connector.id, 'v1')
    assert.equal(await pinnedId(t, connector.id), v1.id)
    const res = await deleteVersion(t, connector.id, 'v1', '?force=true')
    assert.equal(res.status, 204, JSON.stringify(res.body))
    assert.equal(await pinnedId(t, connector.id), undefined)
    const rows = await t.db.kysely.selectFrom('connector_defaults').selectAll().where('version_id', '=', v1.id).execute()
    assert.deepEqual(rows, [])
    assertError(await getVersion(t, connector.id, 'v1'), 404, 'version_not_found')
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })
  })

  test('deleting the latest (force, through the alias) falls back to the previous published version', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    assert.equal((await deleteVersion(t, connector.id, 'LATEST', '?force=true')).status, 204)
    assert.equal(await versionRow(t, connector.id, 'v2'), undefined)
    await assertPointers(t, connector.id, { latest: 'v1', default: 'v1' })
  })

  test('a pinned default that is also latest stays default after the pin is removed', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    await pin(connector.id, 'v2')
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })
    const res = await putVersion(t, connector.id, 'v2', { name: 'v2', isDefault: false })
    assert.equal(res.status, 200)
    assert.equal(await pinnedId(t, connector.id), undefined)
    await assertPointers(t, connector.id, { latest: 'v2', default: 'v2' })
  })

  test('pinning another version moves the pin; at most one default at any time', async () => {
    const connector = await createConnector(t)
    const ids: Record<string, string> = {}
    for (const name of ['v1', 'v2', 'v3']) {
      ids[name] = (await createVersion(t, connector.id, name)).id
      await publish(t, connector.id, name)
    }
    await pin(connector.id, 'v1')
    await pin(connector.id, 'v2')
    assert.equal(await pinnedId(t, connector.id), ids.v2)
    const count = await t.db.kysely.selectFrom('connector_defaults').selectAll().where('connector_id', '=', connector.id).execute()
    assert.equal(count.length, 1)
    await assertPointers(t, connector.id, { latest: 'v3', default: 'v2' })
    // GetConnector embeds the versions with the same flags.
    const got = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${connector.id}` })
    assert.equal(got.status, 200)
    assertFlags(got.body.versions, { latest: 'v3', default: 'v2' })
  })

  test('aliases are per connector', async () => {
    const a = await createConnector(t)
    const b = await createConnector(t)
    await createVersion(t, a.id, 'a1')
    await publish(t, a.id, 'a1')
    await createVersion(t, b.id, 'b1')
    await assertPointers(t, a.id, { latest: 'a1', default: 'a1' })
    await assertPointers(t, b.id, { latest: null, default: null })
    assertError(await getVersion(t, b.id, 'a1'), 404, 'version_not_found')
  })
})

describe('publish, unpublish and delete', () => {
  test('publish sets publishedAt from the database clock as an ISO timestamp', async () => {
    const connector = await createConnector(t)
    const draft = await createVersion(t, connector.id, 'v1')
    const startedAt = Date.now()
    const res = await postAction(t, connector.id, 'v1', 'publish')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const { version } = res.body
    assert.equal(version.id, draft.id)
    assert.match(version.publishedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    assert.equal(new Date(version.publishedAt).toISOString(), version.publishedAt)
    assert.ok(Math.abs(Date.parse(version.publishedAt) - startedAt) < 60_000)
    assert.ok(version.publishedAt >= draft.createdAt)
    assert.ok(version.updatedAt >= draft.updatedAt)
    assert.equal((await versionRow(t, connector.id, 'v1'))?.published_at, version.publishedAt)
    assert.equal((await getVersion(t, connector.id, 'v1')).body.publishedAt, version.publishedAt)
  })

  test('publishing twice is 409 version_already_published and publishedAt is kept', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const first = await publish(t, connector.id, 'v1')
    const before = await versionRow(t, connector.id, 'v1')
    assertError(await postAction(t, connector.id, 'v1', 'publish'), 409, 'version_already_published')
    assertError(await postAction(t, connector.id, 'latest', 'publish'), 409, 'version_already_published')
    const afterRow = await versionRow(t, connector.id, 'v1')
    assert.deepEqual(afterRow, before)
    assert.equal(afterRow?.published_at, first.publishedAt)
  })

  test('unpublishing a draft is 409 version_not_published', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const before = await versionRow(t, connector.id, 'v1')
    assertError(await postAction(t, connector.id, 'v1', 'unpublish'), 409, 'version_not_published')
    assert.deepEqual(await versionRow(t, connector.id, 'v1'), before)
  })

  test('publish and unpublish of unknown versions or unresolvable aliases are 404', async () => {
    const connector = await createConnector(t)
    assertError(await postAction(t, connector.id, 'nope', 'publish'), 404, 'version_not_found')
    assertError(await postAction(t, connector.id, 'nope', 'unpublish'), 404, 'version_not_found')
    assertError(await postAction(t, connector.id, 'latest', 'unpublish'), 404, 'version_not_found')
    assertError(await postAction(t, connector.id, 'default', 'publish'), 404, 'version_not_found')
  })

  test('deleting a draft is 204 and removes it', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const res = await deleteVersion(t, connector.id, 'v1')
    assert.equal(res.status, 204)
    assert.equal(res.raw.body, '')
    assert.equal(await versionRow(t, connector.id, 'v1'), undefined)
    assertError(await getVersion(t, connector.id, 'v1'), 404, 'version_not_found')
    assertError(await deleteVersion(t, connector.id, 'v1'), 404, 'version_not_found')
    // The name is free again.
    await createVersion(t, connector.id, 'v1')
  })

  test('deleting a published version needs force=true', async () => {
    const connector = await createConnector(t)
    const v1 = await createVersion(t, connector.id, 'v1')
    await publish(t, connector.id, 'v1')
    assertError(await deleteVersion(t, connector.id, 'v1'), 409, 'version_published')
    assertError(await deleteVersion(t, connector.id, 'v1', '?force=false'), 409, 'version_published')
    const row = await versionRow(t, connector.id, 'v1')
    assert.equal(row?.id, v1.id)
    assert.notEqual(row?.published_at, null)
    await assertPointers(t, connector.id, { latest: 'v1', default: 'v1' })

    assert.equal((await deleteVersion(t, connector.id, 'v1', '?force=true')).status, 204)
    assert.equal(await versionRow(t, connector.id, 'v1'), undefined)
    await assertPointers(t, connector.id, { latest: null, default: null })
  })

  test('deleting an unknown version is 404 version_not_found', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    assertError(await deleteVersion(t, connector.id, 'v2'), 404, 'version_not_found')
    assertError(await deleteVersion(t, connector.id, 'default', '?force=true'), 404, 'version_not_found')
    assert.ok(await versionRow(t, connector.id, 'v1'))
  })

  test('a bad force value is 400 validation_failed', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    assertError(await deleteVersion(t, connector.id, 'v1', '?force=maybe'), 400, 'validation_failed')
    assert.ok(await versionRow(t, connector.id, 'v1'))
  })
})

describe('access across organisations', () => {
  test("another organisation's connector is 404 through your own organisation path, and nothing changes", async () => {
    const other = await t.newOrg('other')
    const theirs = await createConnector(t, {}, other)
    const base = `/o/${other.id}/connectors/${theirs.id}/versions`
    assert.equal((await t.request({ method: 'POST', url: base, payload: { name: 'v1' }, as: other })).status, 201)
    assert.equal((await t.request({ method: 'POST', url: `${base}/v1/publish`, as: other })).status, 200)
    const before = await versionRow(t, theirs.id, 'v1')

    const mine = `/o/${t.org.id}/connectors/${theirs.id}/versions`
    for (const res of [
      await t.request({ method: 'GET', url: mine }),
      await t.request({ method: 'GET', url: `${mine}/v1` }),
      await t.request({ method: 'GET', url: `${mine}/latest` }),
      await t.request({ method: 'POST', url: mine, payload: { name: 'v2' } }),
      await t.request({ method: 'PUT', url: `${mine}/v1`, payload: { name: 'v1', isDefault: true } }),
      await t.request({ method: 'POST', url: `${mine}/v1/unpublish` }),
      await t.request({ method: 'DELETE', url: `${mine}/v1?force=true` }),
    ]) {
      assertError(res, 404, 'connector_not_found')
    }
    assert.deepEqual(await versionRow(t, theirs.id, 'v1'), before)
    assert.equal(await versionRow(t, theirs.id, 'v2'), undefined)
    assert.equal(await pinnedId(t, theirs.id), undefined)

    // Their own key still sees it.
    const own = await t.request({ method: 'GET', url: `${base}/v1`, as: other })
    assert.equal(own.status, 200)
  })

  test("another organisation's path with your key is 403 forbidden", async () => {
    const other = await t.newOrg('other 2')
    const theirs = await createConnector(t, {}, other)
    const list = await t.request({ method: 'GET', url: `/o/${other.id}/connectors/${theirs.id}/versions` })
    assertError(list, 403, 'forbidden')
    const get = await t.request({ method: 'GET', url: `/o/${other.id}/connectors/${theirs.id}/versions/latest` })
    assertError(get, 403, 'forbidden')
    assert.deepEqual(get.body, list.body)
  })

  test('an unknown connector is 404 connector_not_found; a malformed connector id is 400', async () => {
    const unknown = '01J9ZQ00000000000000000000'
    assertError(await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${unknown}/versions` }), 404, 'connector_not_found')
    assertError(await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${unknown}/versions/v1` }), 404, 'connector_not_found')
    assertError(await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${unknown}/versions/latest` }), 404, 'connector_not_found')
    assertError(await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/not-a-ulid/versions` }), 400, 'validation_failed')
  })

  test('without credentials every version route is 401', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const res = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${connector.id}/versions/v1`, as: null })
    assertError(res, 401, 'unauthenticated')
    const del = await t.request({ method: 'DELETE', url: `/o/${t.org.id}/connectors/${connector.id}/versions/v1`, as: null })
    assertError(del, 401, 'unauthenticated')
    assert.ok(await versionRow(t, connector.id, 'v1'))
  })
})
