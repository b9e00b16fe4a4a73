import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connectorRevision, touchConnector } from '../../src/connectors/connectors.repository.ts'
import { openDatabase, writeTransaction } from '../../src/db/database.ts'
import { ReadMemo } from '../../src/db/read-memo.ts'
import { buildTestApp, createConnector, createVersion, type TestApp } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'

describe('ReadMemo', () => {
  test('hands a value out only at the generation it was read at', () => {
    let dataVersion = 1
    const memo = new ReadMemo(10, () => dataVersion)
    const g = memo.generation()
    memo.set('a', 'A', g)
    assert.equal(memo.get('a', memo.generation()), 'A')
    memo.changed()
    assert.equal(memo.get('a', memo.generation()), undefined, 'a statement of this connection that may write')
    memo.set('a', 'A2', memo.generation())
    assert.equal(memo.get('a', memo.generation()), 'A2')
    dataVersion = 2
    assert.equal(memo.get('a', memo.generation()), undefined, 'a commit by another connection')
  })

  test('drops a value read while something changed', () => {
    const memo = new ReadMemo(10, () => 1)
    const g = memo.generation()
    memo.changed()
    memo.set('a', 'A', g)
    assert.equal(memo.size, 0)
  })

  test('keeps at most its capacity, forgetting the oldest first', () => {
    const memo = new ReadMemo(2, () => 1)
    const g = memo.generation()
    memo.set('a', 1, g)
    memo.set('b', 2, g)
    memo.set('c', 3, g)
    assert.equal(memo.size, 2)
    assert.equal(memo.get('a', g), undefined)
    assert.equal(memo.get('c', g), 3)
  })

  test('bounds the total weight, forgetting the oldest entries until the new one fits', () => {
    const memo = new ReadMemo(10, () => 1)
    const g = memo.generation()
    memo.set('a', 'A', g, 4)
    memo.set('b', 'B', g, 4)
    memo.set('c', 'C', g, 1)
    assert.equal(memo.weight, 9)
    memo.set('d', 'D', g, 5)
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((k) => memo.get(k, g)),
      [undefined, 'B', 'C', 'D'],
      'a, the oldest, went so that d fits',
    )
    assert.equal(memo.weight, 10)
    memo.set('e', 'E', g, 5)
    assert.deepEqual(
      ['b', 'c', 'd', 'e'].map((k) => memo.get(k, g)),
      [undefined, undefined, 'D', 'E'],
      'as many of the oldest go as e needs',
    )
    memo.set('d', 'D2', g, 2)
    assert.equal(memo.weight, 7, 'a replaced entry no longer counts its old weight')
    memo.set('huge', 'H', g, 11)
    assert.equal(memo.get('huge', g), undefined, 'heavier than the whole memo: not kept')
    assert.deepEqual([memo.get('d', g), memo.get('e', g)], ['D2', 'E'], 'and nothing was forgotten for it')
    assert.equal(memo.weight, 7)
  })
})

describe('remembered reads on the real database', () => {
  let t: TestApp
  let connectorId: string
  const versionPath = () => `/o/${t.org.id}/connectors/${connectorId}/versions/v1`

  before(async () => {
    t = await buildTestApp()
    connectorId = (await createConnector(t)).id
    await createVersion(t, connectorId, 'v1')
    const res = await t.request({ method: 'PUT', url: versionPath(), payload: { name: 'v1', description: 'first' } })
    assert.equal(res.status, 200)
  })
  after(async () => {
    await t.close()
  })

  test('PostgreSQL reads every time', { skip: testDialect !== 'postgres' && 'PostgreSQL only' }, () => {
    assert.equal(t.db.memo, undefined)
  })

  test('a commit by another connection to the same file is seen by the next read', { skip: testDialect !== 'sqlite' && 'SQLite only' }, async () => {
    assert.equal((await t.request({ method: 'GET', url: versionPath() })).body.description, 'first')
    assert.equal((await t.request({ method: 'GET', url: versionPath() })).body.description, 'first')
    // Another process on the same file, as a second server or the CLI would be.
    const other = openDatabase({ sqliteFile: t.db.location })
    try {
      await writeTransaction(other, async (tx) => {
        await tx.kysely.updateTable('connector_versions').set({ description: 'changed elsewhere' }).where('connector_id', '=', connectorId).execute()
        await touchConnector(tx, connectorId)
      })
    } finally {
      await other.close()
    }
    const res = await t.request({ method: 'GET', url: versionPath() })
    assert.equal(res.status, 200)
    assert.equal(res.body.description, 'changed elsewhere')
  })

  test('a revision read inside a transaction that rolls back is not remembered', async () => {
    const before = await connectorRevision(t.db, t.org.id, connectorId)
    assert.notEqual(before, undefined)
    await assert.rejects(
      writeTransaction(t.db, async (tx) => {
        await touchConnector(tx, connectorId)
        assert.equal(await connectorRevision(tx, t.org.id, connectorId), before! + 1)
        throw new Error('abandoned')
      }),
      /abandoned/,
    )
    assert.equal(await connectorRevision(t.db, t.org.id, connectorId), before)
  })
})

describe('remembered connector listings on the real database', () => {
  let t: TestApp
  const listed = async (query: string) => {
    const res = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors?${query}` })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return { names: (res.body.connectors as { name: string }[]).map((c) => c.name), total: res.body.totalCount as number }
  }

  before(async () => {
    t = await buildTestApp()
    for (const name of ['Alpha one', 'Alpha two', 'Beta']) await createConnector(t, { name })
  })
  after(async () => {
    await t.close()
  })

  test('a name-filtered page is remembered, and changes with this server\'s writes', async () => {
    const before = t.db.memo?.size
    assert.deepEqual(await listed('name=alpha&sort=name:asc'), { names: ['Alpha one', 'Alpha two'], total: 2 })
    if (t.db.memo) assert.ok(t.db.memo.size > before!, 'the page went into the memo')
    assert.deepEqual(await listed('name=alpha&sort=name:asc'), { names: ['Alpha one', 'Alpha two'], total: 2 })
    await createConnector(t, { name: 'Alpha three' })
    assert.deepEqual(await listed('name=alpha&sort=name:asc'), { names: ['Alpha one', 'Alpha three', 'Alpha two'], total: 3 })
    assert.deepEqual(await listed('sort=name:asc&first=2'), { names: ['Alpha one', 'Alpha three'], total: 4 })
  })

  test('a commit by another connection to the same file changes the same listing', { skip: testDialect !== 'sqlite' && 'SQLite only' }, async () => {
    assert.deepEqual(await listed('name=beta&sort=name:asc'), { names: ['Beta'], total: 1 })
    assert.deepEqual(await listed('sort=name:asc&first=1'), { names: ['Alpha one'], total: 4 })
    const other = openDatabase({ sqliteFile: t.db.location })
    try {
      await writeTransaction(other, async (tx) => {
        // As the service would: a change moves the connector's revision (its cached body's key).
        await tx.kysely
          .updateTable('connectors')
          .set((eb) => ({ name: 'Beta two', revision: eb('revision', '+', 1) }))
          .where('name', '=', 'Alpha one')
          .execute()
      })
    } finally {
      await other.close()
    }
    assert.deepEqual(await listed('name=beta&sort=name:asc'), { names: ['Beta', 'Beta two'], total: 2 })
    assert.deepEqual(await listed('sort=name:asc&first=1'), { names: ['Alpha three'], total: 4 })
  })
})
