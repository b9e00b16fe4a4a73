import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, connectorBody, createConnector, createVersion, type TestApp } from '../helpers/app.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

const createUrl = () => `/o/${t.org.id}/protocols/http/connectors`

async function connectorCount(): Promise<number> {
  const rows = await t.db.kysely.selectFrom('connectors').select('id').where('organisation_id', '=', t.org.id).execute()
  return rows.length
}

describe('Idempotency-Key', () => {
  test('a repeated create replays the first response and creates one connector', async () => {
    const before = await connectorCount()
    const headers = { 'idempotency-key': 'create-once-1' }
    const first = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Once' }), headers })
    assert.equal(first.status, 201)
    assert.equal(first.headers['idempotent-replayed'], undefined)
    const second = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Once' }), headers })
    assert.equal(second.status, 201)
    assert.equal(second.headers['idempotent-replayed'], 'true')
    assert.deepEqual(second.body, first.body)
    assert.equal(second.headers.etag, first.headers.etag)
    assert.equal(await connectorCount(), before + 1)
  })

  test('the same key with a different body is 422 and changes nothing', async () => {
    const headers = { 'idempotency-key': 'create-once-2' }
    assert.equal((await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'A' }), headers })).status, 201)
    const count = await connectorCount()
    const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'B' }), headers })
    assert.equal(res.status, 422)
    assert.equal(res.body.code, 'idempotency_key_reused')
    assert.equal(await connectorCount(), count)
  })

  test('the same key on another route is 422', async () => {
    const connector = await createConnector(t)
    const headers = { 'idempotency-key': 'cross-route' }
    const res1 = await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connector.id}/versions`, payload: { name: 'v1' }, headers })
    assert.equal(res1.status, 201)
    const res2 = await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connector.id}/versions/v1/publish`, headers })
    assert.equal(res2.status, 422)
  })

  test('20 concurrent identical creates with one key create exactly one row', async () => {
    const count = await connectorCount()
    const headers = { 'idempotency-key': 'concurrent-create' }
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Concurrent' }), headers }),
      ),
    )
    const created = responses.filter((r) => r.status === 201)
    assert.ok(created.length >= 1)
    for (const r of responses) {
      assert.ok(r.status === 201 || (r.status === 409 && r.body.code === 'idempotency_in_progress'), `${r.status} ${JSON.stringify(r.body)}`)
    }
    assert.equal(new Set(created.map((r) => r.body.id)).size, 1, 'every 201 carries the same connector')
    assert.equal(await connectorCount(), count + 1)
  })

  test('publish with a key replays 200 instead of 409 on a retry', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    const url = `/o/${t.org.id}/connectors/${connector.id}/versions/v1/publish`
    const headers = { 'idempotency-key': 'publish-v1' }
    const first = await t.request({ method: 'POST', url, headers })
    const second = await t.request({ method: 'POST', url, headers })
    assert.equal(first.status, 200)
    assert.equal(second.status, 200)
    assert.deepEqual(second.body, first.body)
    const third = await t.request({ method: 'POST', url })
    assert.equal(third.status, 409, 'without the key a second publish is a conflict')
  })

  test('unpublish with a key replays', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connector.id}/versions/v1/publish` })
    const url = `/o/${t.org.id}/connectors/${connector.id}/versions/v1/unpublish`
    const headers = { 'idempotency-key': 'unpublish-v1' }
    const first = await t.request({ method: 'POST', url, headers })
    const second = await t.request({ method: 'POST', url, headers })
    assert.equal(first.status, 200)
    assert.deepEqual(second.body, first.body)
  })

  test('a stored error response is replayed too', async () => {
    const connector = await createConnector(t)
    const url = `/o/${t.org.id}/connectors/${connector.id}/versions`
    const headers = { 'idempotency-key': 'reserved-name' }
    const first = await t.request({ method: 'POST', url, payload: { name: 'latest' }, headers })
    const second = await t.request({ method: 'POST', url, payload: { name: 'latest' }, headers })
    assert.equal(first.status, 400)
    assert.equal(second.status, 400)
    assert.equal(second.headers['idempotent-replayed'], 'true')
  })

  test('keys are scoped per organisation', async () => {
    const other = await t.newOrg('other')
    const headers = { 'idempotency-key': 'shared-key' }
    const mine = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Mine' }), headers })
    const theirs = await t.request({
      method: 'POST',
      url: `/o/${other.id}/protocols/http/connectors`,
      payload: connectorBody({ name: 'Theirs' }),
      headers,
      as: other,
    })
    assert.equal(mine.status, 201)
    assert.equal(theirs.status, 201)
    assert.notEqual(mine.body.id, theirs.body.id)
    assert.equal(theirs.body.organisationId, other.id)
  })

  test('a forbidden request stores nothing under the key', async () => {
    const other = await t.newOrg('intruder')
    const headers = { 'idempotency-key': 'intruder-key' }
    const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody(), headers, as: other })
    assert.equal(res.status, 403)
    const rows = await t.db.kysely.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', '=', 'intruder-key').execute()
    assert.equal(rows.length, 0)
  })

  test('an invalid key is 400', async () => {
    for (const key of ['', 'x'.repeat(256), 'has space']) {
      const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody(), headers: { 'idempotency-key': key } })
      assert.equal(res.status, 400, `key ${JSON.stringify(key)}`)
      assert.equal(res.body.code, 'invalid_idempotency_key')
    }
  })

  test('after 24 hours a key runs again', async () => {
    const headers = { 'idempotency-key': 'expiring' }
    const first = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Old' }), headers })
    assert.equal(first.status, 201)
    const dayAgo = new Date(Date.now() - 25 * 60 * 60 * 1000).toISOString()
    await t.db.kysely.updateTable('idempotency_keys').set({ created_at: dayAgo }).where('idempotency_key', '=', 'expiring').execute()
    const second = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Old' }), headers })
    assert.equal(second.status, 201)
    assert.notEqual(second.body.id, first.body.id)
  })

  test('a claim abandoned by a crashed request is taken over after its lease', async () => {
    const past = new Date(Date.now() - 5 * 60 * 1000).toISOString()
    const headers = { 'idempotency-key': 'abandoned' }
    // Learn the fingerprint of this request, then make the stored record look abandoned.
    const first = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Crashy' }), headers })
    assert.equal(first.status, 201)
    await t.db.kysely
      .updateTable('idempotency_keys')
      .set({ status_code: null, response_body: null, locked_until: past })
      .where('idempotency_key', '=', 'abandoned')
      .execute()
    const retried = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Crashy' }), headers })
    assert.equal(retried.status, 201)
    const replay = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Crashy' }), headers })
    assert.deepEqual(replay.body, retried.body)
  })

  test('a claim still held is 409 in progress', async () => {
    const headers = { 'idempotency-key': 'held' }
    const first = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Held' }), headers })
    assert.equal(first.status, 201)
    const future = new Date(Date.now() + 5 * 60 * 1000).toISOString()
    await t.db.kysely
      .updateTable('idempotency_keys')
      .set({ status_code: null, response_body: null, locked_until: future })
      .where('idempotency_key', '=', 'held')
      .execute()
    const res = await t.request({ method: 'POST', url: createUrl(), payload: connectorBody({ name: 'Held' }), headers })
    assert.equal(res.status, 409)
    assert.equal(res.body.code, 'idempotency_in_progress')
    assert.equal(res.headers['retry-after'], '1')
  })
})
