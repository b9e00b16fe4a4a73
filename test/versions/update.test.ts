import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import {
  assertError,
  assertPointers,
  connectorUpdatedAt,
  getVersion,
  pinnedId,
  putVersion,
  snapshot,
  tick,
  versionRow,
} from './support.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

/** A connector with one draft `d1` (description "draft one") and published `p1` (description "pub one"). */
async function setup() {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'p1')
  assert.equal((await putVersion(t, connector.id, 'p1', { name: 'p1', description: 'pub one' })).status, 200)
  await publish(t, connector.id, 'p1')
  await createVersion(t, connector.id, 'd1')
  assert.equal((await putVersion(t, connector.id, 'd1', { name: 'd1', description: 'draft one' })).status, 200)
  const draft = (await getVersion(t, connector.id, 'd1')).body
  const published = (await getVersion(t, connector.id, 'p1')).body
  return { connectorId: connector.id as string, draft, published }
}

/** The body a client would send back: the GET representation without messages. */
function echo(version: Record<string, unknown>): Record<string, unknown> {
  const { messages: _messages, ...rest } = version
  return rest
}

const OTHER_ULID = '01J9ZQ0000000000000000ZZZZ'
const OLD = '2001-02-03T04:05:06.000Z'

describe('UpdateConnectorVersion: read-only fields', () => {
  const cases: { field: string; value: (v: Record<string, unknown>) => unknown; on: 'draft' | 'published' }[] = [
    { field: 'id', value: () => OTHER_ULID, on: 'draft' },
    { field: 'id', value: () => OTHER_ULID, on: 'published' },
    { field: 'createdAt', value: () => OLD, on: 'draft' },
    { field: 'updatedAt', value: () => OLD, on: 'draft' },
    { field: 'updatedAt', value: () => OLD, on: 'published' },
    { field: 'publishedAt', value: () => OLD, on: 'draft' },
    { field: 'publishedAt', value: () => null, on: 'published' },
    { field: 'publishedAt', value: () => OLD, on: 'published' },
    { field: 'isLatest', value: () => true, on: 'draft' },
    { field: 'isLatest', value: () => false, on: 'published' },
  ]
  // Rejected requests change nothing, so these cases share one fixture.
  let fixture: Promise<Awaited<ReturnType<typeof setup>>> | undefined
  for (const c of cases) {
    test(`a different ${c.field} (${c.on}) is 400 read_only_field naming only ${c.field}; nothing changes`, async () => {
      fixture ??= setup()
      const { connectorId, draft, published } = await fixture
      const version = c.on === 'draft' ? draft : published
      const before = await snapshot(t, connectorId)
      await tick()
      // Once with only the field, once with the whole echoed representation.
      for (const body of [{ name: version.name, description: version.description, [c.field]: c.value(version) }, { ...echo(version), [c.field]: c.value(version) }]) {
        const res = await putVersion(t, connectorId, version.name, body)
        assertError(res, 400, 'read_only_field', [c.field])
      }
      assert.deepEqual(await snapshot(t, connectorId), before)
    })
  }

  test('several differing read-only fields are all named', async () => {
    const { connectorId, draft } = await setup()
    const before = await snapshot(t, connectorId)
    const res = await putVersion(t, connectorId, 'd1', {
      ...echo(draft),
      id: OTHER_ULID,
      createdAt: OLD,
      updatedAt: OLD,
      publishedAt: OLD,
      isLatest: true,
      description: 'would change',
    })
    assertError(res, 400, 'read_only_field', ['createdAt', 'id', 'isLatest', 'publishedAt', 'updatedAt'])
    assert.deepEqual(await snapshot(t, connectorId), before)
  })

  test('only the differing ones are named when some read-only fields match', async () => {
    const { connectorId, published } = await setup()
    const res = await putVersion(t, connectorId, 'p1', { ...echo(published), createdAt: OLD, isLatest: false })
    assertError(res, 400, 'read_only_field', ['createdAt', 'isLatest'])
  })

  test('sending the stored values back is fine, for a draft and for a published version', async () => {
    const { connectorId, draft, published } = await setup()
    for (const version of [draft, published]) {
      await tick()
      const res = await putVersion(t, connectorId, version.name, echo(version))
      assert.equal(res.status, 200, JSON.stringify(res.body))
      const { updatedAt: _u, messages: _m, ...same } = res.body
      const { updatedAt: _u2, messages: _m2, ...expected } = version
      assert.deepEqual(same, expected)
      assert.ok(res.body.updatedAt > version.updatedAt)
    }
  })

  test('timestamps are compared as instants: other notations of the same instant are fine', async () => {
    const { connectorId, draft } = await setup()
    const plusZero = (iso: string) => iso.replace(/Z$/, '+00:00')
    const plusTwo = (iso: string) => {
      const shifted = new Date(Date.parse(iso) + 2 * 3600_000).toISOString()
      return shifted.replace(/Z$/, '+02:00')
    }
    const noMillis = (iso: string) => iso.replace(/\.\d+Z$/, 'Z')
    for (const notation of [plusZero, plusTwo]) {
      const res = await putVersion(t, connectorId, 'd1', {
        ...echo(draft),
        createdAt: notation(draft.createdAt),
        updatedAt: notation((await getVersion(t, connectorId, 'd1')).body.updatedAt),
      })
      assert.equal(res.status, 200, `${notation.name}: ${JSON.stringify(res.body)}`)
    }
    const current = (await getVersion(t, connectorId, 'p1')).body
    const res = await putVersion(t, connectorId, 'p1', {
      ...echo(current),
      publishedAt: plusZero(current.publishedAt),
      createdAt: plusTwo(current.createdAt),
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    // A truncated timestamp is a different instant unless the milliseconds happen to be 0.
    if (!current.createdAt.endsWith('.000Z')) {
      const fresh = (await getVersion(t, connectorId, 'p1')).body
      assertError(await putVersion(t, connectorId, 'p1', { ...echo(fresh), createdAt: noMillis(fresh.createdAt) }), 400, 'read_only_field', ['createdAt'])
    }
  })

  test('omitting every read-only field is fine', async () => {
    const { connectorId } = await setup()
    const res = await putVersion(t, connectorId, 'd1', { name: 'd1', description: 'draft one' })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const res2 = await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one' })
    assert.equal(res2.status, 200, JSON.stringify(res2.body))
  })

  test('messages in the body are ignored', async () => {
    const { connectorId, draft } = await setup()
    const res = await putVersion(t, connectorId, 'd1', {
      ...echo(draft),
      messages: [{ text: 'injected', severity: 'error' }, 'not even a message', 42],
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.messages, [])
    assert.deepEqual((await getVersion(t, connectorId, 'd1')).body.messages, [])
  })

  test('fields of the wrong type and a missing name are 400 validation_failed; nothing changes', async () => {
    const { connectorId, draft } = await setup()
    const before = await snapshot(t, connectorId)
    assertError(await putVersion(t, connectorId, 'd1', { description: 'x' }), 400, 'validation_failed', ['name'])
    assertError(await putVersion(t, connectorId, 'd1', { name: 'd1', isDefault: 'yes' }), 400, 'validation_failed', ['isDefault'])
    assertError(await putVersion(t, connectorId, 'd1', { name: 'd1', createdAt: 'yesterday' }), 400, 'validation_failed', ['createdAt'])
    assertError(await putVersion(t, connectorId, 'd1', { ...echo(draft), description: 7 }), 400, 'validation_failed', ['description'])
    assert.deepEqual(await snapshot(t, connectorId), before)
  })
})

describe('UpdateConnectorVersion: name and description of drafts', () => {
  test('description is set, and omitting it clears it', async () => {
    const { connectorId } = await setup()
    const set = await putVersion(t, connectorId, 'd1', { name: 'd1', description: 'new words' })
    assert.equal(set.status, 200)
    assert.equal(set.body.description, 'new words')
    assert.equal((await versionRow(t, connectorId, 'd1'))?.description, 'new words')

    const cleared = await putVersion(t, connectorId, 'd1', { name: 'd1' })
    assert.equal(cleared.status, 200)
    assert.equal('description' in cleared.body, false, JSON.stringify(cleared.body))
    assert.equal((await versionRow(t, connectorId, 'd1'))?.description, null)
    assert.equal('description' in (await getVersion(t, connectorId, 'd1')).body, false)
  })

  test('renaming a draft: the old name is 404, the new one is the same version', async () => {
    const { connectorId, draft } = await setup()
    const res = await putVersion(t, connectorId, 'd1', { ...echo(draft), name: 'd1-renamed' })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.name, 'd1-renamed')
    assert.equal(res.body.id, draft.id)
    assert.equal(res.body.description, 'draft one')
    assertError(await getVersion(t, connectorId, 'd1'), 404, 'version_not_found')
    const got = await getVersion(t, connectorId, 'd1-renamed')
    assert.equal(got.status, 200)
    assert.equal(got.body.id, draft.id)
    assert.equal((await versionRow(t, connectorId, 'd1-renamed'))?.id, draft.id)
    assert.equal(await versionRow(t, connectorId, 'd1'), undefined)
  })

  test('renaming to a unicode name works and the version is addressable by it', async () => {
    const { connectorId, draft } = await setup()
    const res = await putVersion(t, connectorId, 'd1', { name: 'версия ✓ 2' })
    assert.equal(res.status, 200)
    assert.equal((await getVersion(t, connectorId, 'версия ✓ 2')).body.id, draft.id)
  })

  test('renaming to a taken name is 409 version_name_conflict; nothing changes', async () => {
    const { connectorId } = await setup()
    await createVersion(t, connectorId, 'd2')
    const before = await snapshot(t, connectorId)
    assertError(await putVersion(t, connectorId, 'd1', { name: 'd2', description: 'draft one' }), 409, 'version_name_conflict')
    assertError(await putVersion(t, connectorId, 'd1', { name: 'p1', description: 'draft one' }), 409, 'version_name_conflict')
    assert.deepEqual(await snapshot(t, connectorId), before)
  })

  test('renaming to a reserved name in any case is 400 reserved_version_name', async () => {
    const { connectorId } = await setup()
    const before = await snapshot(t, connectorId)
    for (const name of ['latest', 'LATEST', 'Latest', 'default', 'DeFaUlT']) {
      assertError(await putVersion(t, connectorId, 'd1', { name, description: 'draft one' }), 400, 'reserved_version_name', ['name'])
    }
    assert.deepEqual(await snapshot(t, connectorId), before)
  })

  test('renaming to an invalid name is 400 invalid_version_name', async () => {
    const { connectorId } = await setup()
    const before = await snapshot(t, connectorId)
    for (const name of ['', 'a'.repeat(129), 'x/y', 'new\nline', 'nul\u0000', '.', '..']) {
      assertError(await putVersion(t, connectorId, 'd1', { name, description: 'draft one' }), 400, 'invalid_version_name', ['name'])
    }
    assert.deepEqual(await snapshot(t, connectorId), before)
  })

  test('an unknown version is 404 version_not_found', async () => {
    const { connectorId } = await setup()
    assertError(await putVersion(t, connectorId, 'ghost', { name: 'ghost' }), 404, 'version_not_found')
    assert.equal(await versionRow(t, connectorId, 'ghost'), undefined)
  })
})

describe('UpdateConnectorVersion: published versions are immutable except isDefault', () => {
  const changes: [string, (p: Record<string, unknown>) => Record<string, unknown>, number, string][] = [
    ['rename', (p) => ({ ...echo(p), name: 'p1-renamed' }), 409, 'version_published'],
    ['description change', (p) => ({ ...echo(p), description: 'changed' }), 409, 'version_published'],
    ['description omitted (= cleared)', (p) => ({ name: p.name }), 409, 'version_published'],
    ['rename together with isDefault', (p) => ({ ...echo(p), name: 'p1-renamed', isDefault: true }), 409, 'version_published'],
    ['description change together with isDefault', (p) => ({ ...echo(p), description: 'x', isDefault: true }), 409, 'version_published'],
    ['rename to a reserved name', (p) => ({ ...echo(p), name: 'Latest' }), 400, 'reserved_version_name'],
  ]
  for (const [label, body, status, code] of changes) {
    test(`${label} is ${status} ${code} and nothing changes in the database`, async () => {
      const { connectorId } = await setup()
      await createVersion(t, connectorId, 'p2')
      await publish(t, connectorId, 'p2')
      const published = (await getVersion(t, connectorId, 'p1')).body
      const before = await snapshot(t, connectorId)
      await tick()
      assertError(await putVersion(t, connectorId, 'p1', body(published)), status, code)
      assert.deepEqual(await snapshot(t, connectorId), before)
      assert.equal(await pinnedId(t, connectorId), undefined)
      const got = await getVersion(t, connectorId, 'p1')
      assert.equal(got.body.description, 'pub one')
      assert.equal(got.body.updatedAt, published.updatedAt)
      assertError(await getVersion(t, connectorId, 'p1-renamed'), 404, 'version_not_found')
    })
  }
})

describe('UpdateConnectorVersion: isDefault', () => {
  test('isDefault true on a draft is 400 default_requires_published; nothing is pinned', async () => {
    const { connectorId, draft } = await setup()
    const before = await snapshot(t, connectorId)
    assertError(await putVersion(t, connectorId, 'd1', { ...echo(draft), isDefault: true }), 400, 'default_requires_published', ['isDefault'])
    assert.deepEqual(await snapshot(t, connectorId), before)
    assert.equal(await pinnedId(t, connectorId), undefined)
  })

  test('isDefault true on a published version pins it, with an info message', async () => {
    const { connectorId, published } = await setup()
    await createVersion(t, connectorId, 'p2')
    await publish(t, connectorId, 'p2')
    await assertPointers(t, connectorId, { latest: 'p2', default: 'p2' })

    const res = await putVersion(t, connectorId, 'p1', { ...echo((await getVersion(t, connectorId, 'p1')).body), isDefault: true })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.isDefault, true)
    assert.equal(res.body.isLatest, false)
    assert.deepEqual(res.body.messages.map((m: { severity: string }) => m.severity), ['info'])
    assert.equal(await pinnedId(t, connectorId), published.id)
    await assertPointers(t, connectorId, { latest: 'p2', default: 'p1' })

    // Pinning it again changes nothing and says nothing.
    const again = await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: true })
    assert.equal(again.status, 200)
    assert.deepEqual(again.body.messages, [])
    assert.equal(await pinnedId(t, connectorId), published.id)
  })

  test('isDefault false on the pinned version unpins it; default follows latest again', async () => {
    const { connectorId, published } = await setup()
    await createVersion(t, connectorId, 'p2')
    await publish(t, connectorId, 'p2')
    await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: true })
    assert.equal(await pinnedId(t, connectorId), published.id)

    const res = await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: false })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.isDefault, false)
    assert.deepEqual(res.body.messages.map((m: { severity: string }) => m.severity), ['info'])
    assert.equal(await pinnedId(t, connectorId), undefined)
    await assertPointers(t, connectorId, { latest: 'p2', default: 'p2' })
  })

  test('isDefault false on a version that is default only as latest is 200 with a warning, and changes nothing', async () => {
    const { connectorId } = await setup()
    await assertPointers(t, connectorId, { latest: 'p1', default: 'p1' })
    const res = await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: false })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.isDefault, true)
    assert.deepEqual(res.body.messages.map((m: { severity: string }) => m.severity), ['warning'])
    assert.equal(await pinnedId(t, connectorId), undefined)
    await assertPointers(t, connectorId, { latest: 'p1', default: 'p1' })
  })

  test('isDefault false on a version that is not default is 200 without messages', async () => {
    const { connectorId } = await setup()
    await createVersion(t, connectorId, 'p2')
    await publish(t, connectorId, 'p2')
    const res = await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: false })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body.messages, [])
    const draft = await putVersion(t, connectorId, 'd1', { name: 'd1', isDefault: false })
    assert.equal(draft.status, 200)
    assert.deepEqual(draft.body.messages, [])
    assert.equal(await pinnedId(t, connectorId), undefined)
    await assertPointers(t, connectorId, { latest: 'p2', default: 'p2' })
  })

  test('PUT through the default and latest aliases', async () => {
    const { connectorId, published } = await setup()
    const p2 = await createVersion(t, connectorId, 'p2')
    await publish(t, connectorId, 'p2')
    // Pin p1 by name, then move the pin to whatever latest is (p2), through the alias.
    await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'pub one', isDefault: true })
    assert.equal(await pinnedId(t, connectorId), published.id)
    const viaLatest = await putVersion(t, connectorId, 'LATEST', { name: 'p2', isDefault: true })
    assert.equal(viaLatest.status, 200, JSON.stringify(viaLatest.body))
    assert.equal(viaLatest.body.id, p2.id)
    assert.equal(viaLatest.body.isDefault, true)
    assert.equal(await pinnedId(t, connectorId), p2.id)

    // Unpin through the default alias: default now follows latest (still p2), pin row gone.
    const viaDefault = await putVersion(t, connectorId, 'Default', { name: 'p2', isDefault: false })
    assert.equal(viaDefault.status, 200, JSON.stringify(viaDefault.body))
    assert.equal(viaDefault.body.id, p2.id)
    assert.equal(await pinnedId(t, connectorId), undefined)

    // Through an alias, a different name in the body is a rename of a published version: 409.
    const before = await snapshot(t, connectorId)
    assertError(await putVersion(t, connectorId, 'default', { name: 'p1' }), 409, 'version_published', ['name'])
    assert.deepEqual(await snapshot(t, connectorId), before)
    await assertPointers(t, connectorId, { latest: 'p2', default: 'p2' })
  })

  test('PUT through an alias that resolves to nothing is 404', async () => {
    const connector = await createConnector(t)
    await createVersion(t, connector.id, 'd')
    assertError(await putVersion(t, connector.id, 'latest', { name: 'd' }), 404, 'version_not_found')
    assertError(await putVersion(t, connector.id, 'default', { name: 'd' }), 404, 'version_not_found')
  })
})

describe('UpdateConnectorVersion: updatedAt', () => {
  test("a successful PUT bumps the version's and the connector's updatedAt; a rejected one does not", async () => {
    const { connectorId, draft, published } = await setup()
    for (const [ref, body] of [
      ['d1', { name: 'd1', description: 'edited' }],
      ['p1', { name: 'p1', description: 'pub one', isDefault: true }],
      ['p1', { name: 'p1', description: 'pub one' }],
    ] as const) {
      const versionBefore = (await getVersion(t, connectorId, ref)).body.updatedAt
      const connectorBefore = await connectorUpdatedAt(t, connectorId)
      await tick()
      const res = await putVersion(t, connectorId, ref, body)
      assert.equal(res.status, 200, JSON.stringify(res.body))
      assert.ok(res.body.updatedAt > versionBefore, `${res.body.updatedAt} > ${versionBefore}`)
      const row = await versionRow(t, connectorId, ref)
      assert.equal(row?.updated_at, res.body.updatedAt)
      const connectorAfter = await connectorUpdatedAt(t, connectorId)
      assert.ok(connectorAfter > connectorBefore, `${connectorAfter} > ${connectorBefore}`)
      const got = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${connectorId}` })
      assert.equal(got.body.updatedAt, connectorAfter)
    }
    assert.notEqual(draft.id, published.id)
    // createdAt never moves.
    assert.equal((await getVersion(t, connectorId, 'd1')).body.createdAt, draft.createdAt)

    const before = await snapshot(t, connectorId)
    await tick()
    assertError(await putVersion(t, connectorId, 'p1', { name: 'p1', description: 'nope' }), 409, 'version_published')
    assert.deepEqual(await snapshot(t, connectorId), before)
  })
})
