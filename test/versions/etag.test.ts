import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp, type TestResponse } from '../helpers/app.ts'
import { assertError, deleteVersion, getVersion, postAction, putVersion, snapshot, tick, versionRow } from './support.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

async function etagOf(connectorId: string, ref: string): Promise<string> {
  const res = await getVersion(t, connectorId, ref)
  assert.equal(res.status, 200)
  const etag = res.headers.etag
  assert.equal(typeof etag, 'string')
  return etag as string
}

/**
 * Each conditional write, with the state it needs: `prepare` builds a connector where the
 * operation on version `v` can succeed, `run` performs it with the given headers.
 */
interface Operation {
  label: string
  prepare(connectorId: string): Promise<void>
  run(connectorId: string, headers: Record<string, string>): Promise<TestResponse>
  succeeded(res: TestResponse, connectorId: string): Promise<void>
}

const operations: Operation[] = [
  {
    label: 'PUT',
    prepare: async () => {},
    run: (id, headers) => putVersion(t, id, 'v', { name: 'v', description: 'edited' }, headers),
    succeeded: async (res, id) => {
      assert.equal(res.status, 200, JSON.stringify(res.body))
      assert.equal((await versionRow(t, id, 'v'))?.description, 'edited')
    },
  },
  {
    label: 'DELETE',
    prepare: async () => {},
    run: (id, headers) => deleteVersion(t, id, 'v', '', headers),
    succeeded: async (res, id) => {
      assert.equal(res.status, 204, JSON.stringify(res.body))
      assert.equal(await versionRow(t, id, 'v'), undefined)
    },
  },
  {
    label: 'publish',
    prepare: async () => {},
    run: (id, headers) => postAction(t, id, 'v', 'publish', headers),
    succeeded: async (res, id) => {
      assert.equal(res.status, 200, JSON.stringify(res.body))
      assert.notEqual((await versionRow(t, id, 'v'))?.published_at, null)
    },
  },
  {
    label: 'unpublish',
    prepare: async (id) => {
      await publish(t, id, 'v')
    },
    run: (id, headers) => postAction(t, id, 'v', 'unpublish', headers),
    succeeded: async (res, id) => {
      assert.equal(res.status, 200, JSON.stringify(res.body))
      assert.equal((await versionRow(t, id, 'v'))?.published_at, null)
    },
  },
]

/** Another change to version `v` that is allowed in its prepared state and changes its ETag. */
async function changeSomethingElse(connectorId: string): Promise<void> {
  await tick()
  const current = (await getVersion(t, connectorId, 'v')).body
  const res =
    current.publishedAt === null
      ? await putVersion(t, connectorId, 'v', { name: 'v', description: 'someone else' })
      : await putVersion(t, connectorId, 'v', { name: 'v', isDefault: true })
  assert.equal(res.status, 200, JSON.stringify(res.body))
}

async function prepared(op: Operation): Promise<string> {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'v')
  await op.prepare(connector.id)
  return connector.id
}

describe('If-Match on conditional writes', () => {
  for (const op of operations) {
    test(`${op.label}: the current ETag matches`, async () => {
      const id = await prepared(op)
      const etag = await etagOf(id, 'v')
      await op.succeeded(await op.run(id, { 'if-match': etag }), id)
    })

    test(`${op.label}: a stale ETag is 412 precondition_failed and nothing changes`, async () => {
      const id = await prepared(op)
      const stale = await etagOf(id, 'v')
      await changeSomethingElse(id)
      assert.notEqual(await etagOf(id, 'v'), stale)
      const before = await snapshot(t, id)
      assertError(await op.run(id, { 'if-match': stale }), 412, 'precondition_failed')
      assert.deepEqual(await snapshot(t, id), before)
    })

    test(`${op.label}: If-Match * matches any current representation`, async () => {
      const id = await prepared(op)
      await op.succeeded(await op.run(id, { 'if-match': '*' }), id)
    })

    test(`${op.label}: without If-Match the operation proceeds`, async () => {
      const id = await prepared(op)
      await op.succeeded(await op.run(id, {}), id)
    })

    test(`${op.label}: a list containing the current ETag matches; a weak tag never does`, async () => {
      const id = await prepared(op)
      const etag = await etagOf(id, 'v')
      const before = await snapshot(t, id)
      assertError(await op.run(id, { 'if-match': `W/${etag}` }), 412, 'precondition_failed')
      assertError(await op.run(id, { 'if-match': '"nope"' }), 412, 'precondition_failed')
      assert.deepEqual(await snapshot(t, id), before)
      await op.succeeded(await op.run(id, { 'if-match': `"nope", ${etag}` }), id)
    })
  }

  test('If-Match is checked against the version an alias resolves to', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    const v1Tag = await etagOf(connector.id, 'v1')
    const before = await snapshot(t, connector.id)
    // latest is v2, so v1's tag does not match.
    assertError(await putVersion(t, connector.id, 'latest', { name: 'v2', isDefault: true }, { 'if-match': v1Tag }), 412, 'precondition_failed')
    assert.deepEqual(await snapshot(t, connector.id), before)
    const latestTag = await etagOf(connector.id, 'latest')
    assert.equal(latestTag, await etagOf(connector.id, 'v2'))
    const res = await putVersion(t, connector.id, 'latest', { name: 'v2', isDefault: true }, { 'if-match': latestTag })
    assert.equal(res.status, 200, JSON.stringify(res.body))
  })
})

describe('ETag and If-None-Match on GET', () => {
  test('GET returns a strong ETag that matches the representation returned by writes', async () => {
    const connector = await createConnector(t)
    const created = await t.request({ method: 'POST', url: `/o/${t.org.id}/connectors/${connector.id}/versions`, payload: { name: 'v' } })
    const etag = await etagOf(connector.id, 'v')
    assert.match(etag, /^"[^"]+"$/, 'strong, quoted entity tag')
    assert.equal(created.headers.etag, etag)

    const put = await putVersion(t, connector.id, 'v', { name: 'v', description: 'd' })
    assert.notEqual(put.headers.etag, etag)
    assert.equal(put.headers.etag, await etagOf(connector.id, 'v'))

    const published = await postAction(t, connector.id, 'v', 'publish')
    assert.equal(published.headers.etag, await etagOf(connector.id, 'v'))
    // messages are per request and not part of the entity: the ETag is the same without them.
    assert.ok(published.body.version.messages.length > 0)
  })

  test('If-None-Match with the current ETag is 304 without a body; a stale one is 200', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v')
    const etag = await etagOf(connector.id, 'v')
    const hit = await getVersion(t, connector.id, 'v', { 'if-none-match': etag })
    assert.equal(hit.status, 304)
    assert.equal(hit.raw.body, '')
    assert.equal(hit.headers.etag, etag)
    assert.equal((await getVersion(t, connector.id, 'v', { 'if-none-match': `W/${etag}` })).status, 304)
    assert.equal((await getVersion(t, connector.id, 'v', { 'if-none-match': `"other", ${etag}` })).status, 304)
    assert.equal((await getVersion(t, connector.id, 'v', { 'if-none-match': '*' })).status, 304)

    await tick()
    await putVersion(t, connector.id, 'v', { name: 'v', description: 'changed' })
    const miss = await getVersion(t, connector.id, 'v', { 'if-none-match': etag })
    assert.equal(miss.status, 200)
    assert.equal(miss.body.description, 'changed')
    assert.notEqual(miss.headers.etag, etag)
  })

  test('the ETag changes when isLatest changes because another version was published', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    // Pin v1 so that publishing v2 changes only its isLatest, not its isDefault.
    assert.equal((await putVersion(t, connector.id, 'v1', { name: 'v1', isDefault: true })).status, 200)
    const before = await getVersion(t, connector.id, 'v1')
    assert.equal(before.body.isLatest, true)
    assert.equal(before.body.isDefault, true)
    const rowBefore = await versionRow(t, connector.id, 'v1')

    await publish(t, connector.id, 'v2')
    // v1's stored row did not change, but its representation did.
    assert.deepEqual(await versionRow(t, connector.id, 'v1'), rowBefore)
    const afterRes = await getVersion(t, connector.id, 'v1', { 'if-none-match': before.headers.etag as string })
    assert.equal(afterRes.status, 200)
    assert.equal(afterRes.body.isLatest, false)
    assert.equal(afterRes.body.isDefault, true)
    assert.notEqual(afterRes.headers.etag, before.headers.etag)

    // A write conditioned on the old representation is refused.
    const snap = await snapshot(t, connector.id)
    assertError(
      await putVersion(t, connector.id, 'v1', { name: 'v1', isDefault: false }, { 'if-match': before.headers.etag as string }),
      412,
      'precondition_failed',
    )
    assertError(await deleteVersion(t, connector.id, 'v1', '?force=true', { 'if-match': before.headers.etag as string }), 412, 'precondition_failed')
    assert.deepEqual(await snapshot(t, connector.id), snap)
  })

  test('the ETag changes when isDefault changes because of a pin elsewhere', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'v1')
    await createVersion(t, connector.id, 'v2')
    await publish(t, connector.id, 'v1')
    await publish(t, connector.id, 'v2')
    const v2Before = await etagOf(connector.id, 'v2')
    assert.equal((await putVersion(t, connector.id, 'v1', { name: 'v1', isDefault: true })).status, 200)
    const v2After = await getVersion(t, connector.id, 'v2')
    assert.equal(v2After.body.isDefault, false)
    assert.notEqual(v2After.headers.etag, v2Before)
  })
})
