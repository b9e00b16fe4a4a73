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
