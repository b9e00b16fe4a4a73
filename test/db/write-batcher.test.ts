import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import { openDatabase, writeTransaction, type Db } from '../../src/db/database.ts'
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.ts'

/** Group commit of SQLite write transactions (src/db/write-batcher.ts). */
let testDb: TestDatabase
before(async () => {
  testDb = await createTestDatabase()
  await sql`create table batch_parents (id integer primary key)`.execute(testDb.db.kysely)
  await sql`create table batch_rows (id integer primary key, label text not null unique, parent_id integer references batch_parents (id))`.execute(
    testDb.db.kysely,
  )
})
after(async () => {
  await testDb.drop()
})

async function insertRow(tx: Db, id: number, label = `row ${id}`): Promise<number> {
  await sql`insert into batch_rows (id, label) values (${id}, ${label})`.execute(tx.kysely)
  return id
}

async function storedIds(db: Db): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`select id from batch_rows order by id`.execute(db.kysely)
  return rows.map((row) => row.id)
}

async function clear(db: Db): Promise<void> {
  await sql`delete from batch_rows`.execute(db.kysely)
}

if (testDialect === 'postgres') {
  test('PostgreSQL runs every write transaction on its own (the server groups WAL flushes itself)', () => {
    assert.equal(testDb.db.writes, undefined)
  })
} else {
  test('write transactions requested together share one commit, and each settles only after it', async () => {
    const { db } = testDb
    await clear(db)
    const batcher = db.writes!
    const before = batcher.stats()
    // A second connection sees only what is committed.
    const observer = new SQLite(db.location, { readonly: true })
    try {
      const seenAtSettlement: number[][] = []
      const ids = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          writeTransaction(db, (tx) => insertRow(tx, i + 1)).then((id) => {
            seenAtSettlement.push((observer.prepare('select id from batch_rows order by id').all() as { id: number }[]).map((r) => r.id))
            return id
          }),
        ),
      )
      assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      for (const seen of seenAtSettlement) assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      const afterTogether = batcher.stats()
      assert.equal(afterTogether.writes - before.writes, 10)
      assert.equal(afterTogether.commits - before.commits, 1)

      // One after another, each has its own commit.
      for (let i = 11; i <= 13; i++) await writeTransaction(db, (tx) => insertRow(tx, i))
      assert.equal(batcher.stats().commits - afterTogether.commits, 3)
      assert.deepEqual(await storedIds(db), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    } finally {
      observer.close()
    }
  })

  test('a write transaction that fails is undone alone; the others of its batch commit', async () => {
    const { db } = testDb
    await clear(db)
    const failure = (id: number) => new Error(`work ${id} failed after writing`)
    const outcomes = await Promise.allSettled([
      // The first of the batch fails after writing: its rollback must not take the others with it.
      writeTransaction(db, async (tx) => {
        await insertRow(tx, 1)
        throw failure(1)
      }),
      writeTransaction(db, (tx) => insertRow(tx, 2)),
      writeTransaction(db, async (tx) => {
        await insertRow(tx, 3)
        await insertRow(tx, 4)
        throw failure(3)
      }),
      // A unique violation reaches the caller as such (services map it to 409).
      writeTransaction(db, async (tx) => {
        await insertRow(tx, 5)
        return insertRow(tx, 6, 'row 2')
      }),
      writeTransaction(db, async (tx) => insertRow(tx, 7)),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
    )
    assert.equal((outcomes[0] as PromiseRejectedResult).reason.message, 'work 1 failed after writing')
    assert.equal((outcomes[2] as PromiseRejectedResult).reason.message, 'work 3 failed after writing')
    assert.ok(db.dialect.isUniqueViolation((outcomes[3] as PromiseRejectedResult).reason))
    assert.deepEqual(await storedIds(db), [2, 7])
  })

  test('when a shared commit fails, each write transaction runs again alone and fails only for itself', async () => {
    const { db } = testDb
    await clear(db)
    const batcher = db.writes!
    const before = batcher.stats()
    let badAttempts = 0
    const outcomes = await Promise.allSettled([
      writeTransaction(db, (tx) => insertRow(tx, 1)),
      writeTransaction(db, async (tx) => {
        badAttempts++
        // A deferred foreign-key violation passes the insert and fails the commit.
        await sql`pragma defer_foreign_keys = on`.execute(tx.kysely)
        await sql`insert into batch_rows (id, label, parent_id) values (2, 'orphan', 999)`.execute(tx.kysely)
      }),
      writeTransaction(db, (tx) => insertRow(tx, 3)),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    )
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /FOREIGN KEY/)
    // Once in the shared transaction, once alone: a constraint failure is not retried further.
    assert.equal(badAttempts, 2)
    assert.deepEqual(await storedIds(db), [1, 3])
    assert.equal(batcher.stats().writes - before.writes, 2)
  })

  test('write transactions on a closed database fail instead of waiting forever', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-batch-'))
    try {
      const closed = openDatabase({ sqliteFile: path.join(dir, 'closed.db') })
      await closed.close()
      const outcomes = await Promise.allSettled([1, 2, 3].map((id) => writeTransaction(closed, (tx) => insertRow(tx, id))))
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['rejected', 'rejected', 'rejected'],
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}
