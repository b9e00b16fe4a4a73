import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

const subs = (connectorId: string, subscriber = '') =>
  `/o/${t.org.id}/connectors/${connectorId}/subscriptions${subscriber ? `/${encodeURIComponent(subscriber)}` : ''}`
const versionUrl = (connectorId: string, version: string, rest = '') => `/o/${t.org.id}/connectors/${connectorId}/versions/${version}${rest}`

function subscribe(connectorId: string, subscriber: string, version: string) {
  return t.request({ method: 'PUT', url: subs(connectorId, subscriber), payload: { version } })
}

test('PUT subscribes (201) or moves (200); GET lists; DELETE unsubscribes; names follow renames', async () => {
  const c = (await createConnector(t)).id
  const v1 = await createVersion(t, c, 'v1')
  await createVersion(t, c, 'v2')

  const created = await subscribe(c, 'billing', 'v1')
  assert.equal(created.status, 201)
  assert.equal(created.body.subscriber, 'billing')
  assert.equal(created.body.version, 'v1')
  assert.deepEqual(created.body.resolvedVersion, { id: v1.id, name: 'v1' })
  const moved = await subscribe(c, 'billing', 'v2')
  assert.equal(moved.status, 200)
  assert.equal(moved.body.version, 'v2')
  assert.equal(moved.body.createdAt, created.body.createdAt)

  assert.equal((await subscribe(c, 'crm', 'v9')).body.code, 'unknown_version')
  const noLatest = await subscribe(c, 'crm', 'latest')
  assert.equal(noLatest.status, 400)
  assert.equal(noLatest.body.code, 'unknown_version')
  assert.equal((await subscribe(c, 'bad name', 'v1')).status, 400)
  assert.equal((await t.request({ method: 'PUT', url: subs(c, 'crm'), payload: {} })).status, 400)

  await publish(t, c, 'v1')
  const alias = await subscribe(c, 'crm', 'LATEST')
  assert.equal(alias.status, 201)
  assert.equal(alias.body.version, 'latest')
  assert.deepEqual(alias.body.resolvedVersion, { id: v1.id, name: 'v1' })

  // A subscription by name follows a rename of the (draft) version.
  const renamed = await t.request({ method: 'PUT', url: versionUrl(c, 'v2'), payload: { name: 'v2-renamed' } })
  assert.equal(renamed.status, 200)
  const list = await t.request({ method: 'GET', url: subs(c) })
  assert.equal(list.status, 200)
  assert.equal(list.body.totalCount, 2)
  assert.deepEqual(list.body.subscriptions.map((s: { subscriber: string; version: string }) => `${s.subscriber}=${s.version}`), [
    'billing=v2-renamed',
    'crm=latest',
  ])
  const page = await t.request({ method: 'GET', url: `${subs(c)}?first=1` })
  assert.equal(page.body.subscriptions.length, 1)
  const next = await t.request({ method: 'GET', url: `${subs(c)}?first=1&after=${encodeURIComponent(page.body.next)}` })
  assert.equal(next.body.subscriptions[0].subscriber, 'crm')

  assert.equal((await t.request({ method: 'DELETE', url: subs(c, 'crm') })).status, 204)
  const again = await t.request({ method: 'DELETE', url: subs(c, 'crm') })
  assert.equal(again.status, 404)
  assert.equal(again.body.code, 'subscription_not_found')
  const rows = await t.db.kysely.selectFrom('connector_subscriptions').selectAll().where('connector_id', '=', c).execute()
  assert.deepEqual(rows.map((r) => [r.subscriber, r.alias, r.version_id]), [['billing', null, (await t.request({ method: 'GET', url: versionUrl(c, 'v2-renamed') })).body.id]])

  const other = await t.newOrg('other')
  assert.equal((await t.request({ method: 'GET', url: subs(c), as: other })).status, 403)
  const theirs = await createConnector(t, {}, other)
  assert.equal((await subscribe(theirs.id, 'billing', 'v1')).body.code, 'connector_not_found')
  // Listing asks only whether the connector is in the organisation: another's, or a deleted one, is 404.
  const theirList = await t.request({ method: 'GET', url: subs(theirs.id) })
  assert.equal(theirList.status, 404)
  assert.equal(theirList.body.code, 'connector_not_found')
  const gone = (await createConnector(t)).id
  assert.equal((await t.request({ method: 'GET', url: subs(gone) })).status, 200)
  assert.equal((await t.request({ method: 'DELETE', url: `/o/${t.org.id}/connectors/${gone}` })).status, 204)
  assert.equal((await t.request({ method: 'GET', url: subs(gone) })).body.code, 'connector_not_found')
})

test('a subscribed version cannot be unpublished or deleted, nor the connector deleted, unless force on delete', async () => {
  const c = (await createConnector(t)).id
  await createVersion(t, c, 'v1')
  await publish(t, c, 'v1')
  await createVersion(t, c, 'draft')
  await subscribe(c, 'billing', 'v1')
  await subscribe(c, 'reports', 'v1')
  await subscribe(c, 'sandbox', 'draft')

  const unpublish = await t.request({ method: 'POST', url: versionUrl(c, 'v1', '/unpublish') })
  assert.equal(unpublish.status, 409)
  assert.equal(unpublish.body.code, 'version_subscribed')
  assert.equal(unpublish.body.details, 'billing, reports')
  assert.notEqual((await t.request({ method: 'GET', url: versionUrl(c, 'v1') })).body.publishedAt, null)

  const delDraft = await t.request({ method: 'DELETE', url: versionUrl(c, 'draft') })
  assert.equal(delDraft.status, 409)
  assert.equal(delDraft.body.code, 'version_subscribed')
  assert.equal(delDraft.body.details, 'sandbox')
  const delConnector = await t.request({ method: 'DELETE', url: `/o/${t.org.id}/connectors/${c}` })
  assert.equal(delConnector.status, 409)
  assert.equal(delConnector.body.code, 'connector_subscribed')
  assert.equal(delConnector.body.details, 'billing, reports, sandbox')

  // force deletes the version and its subscriptions with it.
  assert.equal((await t.request({ method: 'DELETE', url: versionUrl(c, 'draft', '?force=true') })).status, 204)
  const left = await t.request({ method: 'GET', url: subs(c) })
  assert.deepEqual(left.body.subscriptions.map((s: { subscriber: string }) => s.subscriber), ['billing', 'reports'])

  // Unsubscribed, the version can be unpublished again.
  await t.request({ method: 'DELETE', url: subs(c, 'billing') })
  await t.request({ method: 'DELETE', url: subs(c, 'reports') })
  assert.equal((await t.request({ method: 'POST', url: versionUrl(c, 'v1', '/unpublish') })).status, 200)

  await subscribe(c, 'billing', 'v1')
  assert.equal((await t.request({ method: 'DELETE', url: `/o/${t.org.id}/connectors/${c}?force=true` })).status, 204)
  const rows = await t.db.kysely.selectFrom('connector_subscriptions').selectAll().where('connector_id', '=', c).execute()
  assert.deepEqual(rows, [])
})

test('a subscription to an alias protects the version the alias resolves to now', async () => {
  const c = (await createConnector(t)).id
  await createVersion(t, c, 'v1')
  await publish(t, c, 'v1')
  await createVersion(t, c, 'v2')
  await publish(t, c, 'v2')
  await subscribe(c, 'portal', 'latest')

  // v1 is no longer latest: unpublishing it takes nothing from the subscriber.
  assert.equal((await t.request({ method: 'POST', url: versionUrl(c, 'v1', '/unpublish') })).status, 200)
  const blocked = await t.request({ method: 'POST', url: versionUrl(c, 'v2', '/unpublish') })
  assert.equal(blocked.status, 409)
  assert.equal(blocked.body.details, 'portal')
  const delLatest = await t.request({ method: 'DELETE', url: versionUrl(c, 'v2', '?force=true') })
  assert.equal(delLatest.status, 204, 'force overrides the subscription')
  const list = await t.request({ method: 'GET', url: subs(c) })
  assert.equal(list.body.subscriptions[0].version, 'latest')
  assert.equal(list.body.subscriptions[0].resolvedVersion, null)
})
