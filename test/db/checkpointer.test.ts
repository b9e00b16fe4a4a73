import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import { openDatabase, writeTransaction } from '../../src/db/database.ts'
import { CHECKPOINT_PAUSE_MS, Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from '../../src/db/checkpointer.ts'
import { buildTestApp, createConnector, createVersion, type TestApp } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'

/**
 * Reads a value from the database file alone, as it would be without its WAL: a copy of the
 * file, opened without the -wal file next to it, sees only what a checkpoint has copied back.
 */
function readFromFileWithoutWal(file: string, query: string, ...params: unknown[]): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-ckpt-'))
  try {
    const copy = path.join(dir, 'copy.db')
    fs.copyFileSync(file, copy)
    const db = new SQLite(copy, { readonly: true })
    try {
      return db.prepare(query).pluck().get(...params)
    } finally {
      db.close()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return check()
}

describe('background checkpoints', { skip: testDialect !== 'sqlite' && 'SQLite only' }, () => {
  let t: TestApp
  let connectorId: string
  const versionPath = () => `/o/${t.org.id}/connectors/${connectorId}/versions/v1`
  const storedDescription = () =>
    readFromFileWithoutWal(t.db.location, 'select description from connector_versions where connector_id = ? and name = ?', connectorId, 'v1')

  before(async () => {
    t = await buildTestApp()
    connectorId = (await createConnector(t)).id
    await createVersion(t, connectorId, 'v1')
  })
  after(async () => {
    await t.close()
  })

  test('a write reaches the database file without waiting for the WAL to fill', async () => {
    // A handful of pages: far below SQLite's own automatic checkpoint (1,000 pages, here 16,000),
    // so only the worker copies it back.
    const res = await t.request({ method: 'PUT', url: versionPath(), payload: { name: 'v1', description: 'checkpointed' } })
    assert.equal(res.status, 200)
    assert.ok(await eventually(() => storedDescription() === 'checkpointed', 3000), 'the write is still only in the WAL')
    const again = await t.request({ method: 'PUT', url: versionPath(), payload: { name: 'v1', description: 'and again' } })
    assert.equal(again.status, 200)
    assert.ok(await eventually(() => storedDescription() === 'and again', 3000), 'later writes are checkpointed too')
  })

  test('a write transaction that commits long after its last write is checkpointed too', async () => {
    // The worker waits CHECKPOINT_PAUSE_MS after a write before it checkpoints; a commit later
    // than that must wake it again, or the transaction's pages stay in the WAL until some other
    // write.
    await writeTransaction(t.db, async (tx) => {
      await sql`update connector_versions set description = 'late commit' where connector_id = ${connectorId} and name = 'v1'`.execute(tx.kysely)
      await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_PAUSE_MS + 200))
    })
    assert.ok(await eventually(() => storedDescription() === 'late commit', 3000), 'the committed write is still only in the WAL')
  })

  test('a worker that cannot open its database reports the failure (openDatabase then restores SQLite\'s own checkpoints)', async () => {
    // The worker is unreferenced (it never keeps a process alive): the timer keeps this test's.
    let timer: NodeJS.Timeout | undefined
    const failed = await new Promise<boolean>((resolve) => {
      new Checkpointer(path.join(os.tmpdir(), 'cr-no-such-dir', 'missing.db'), () => resolve(true))
      timer = setTimeout(() => resolve(false), 5000)
    })
    clearTimeout(timer)
    assert.equal(failed, true)
  })

  test('under a steady stream of writes the WAL file stays near the fallback checkpoint', async () => {
    // The worker's PASSIVE checkpoints never leave the WAL wholly copied while writes go on, so
    // only the connection's own checkpoint at FALLBACK_AUTOCHECKPOINT_PAGES lets it start over:
    // without it (or with it off) the file would grow with every write. While the worker's own
    // checkpoint holds SQLite's checkpoint lock the COMMIT's is skipped, so the WAL may pass the
    // fallback by what is written meanwhile (up to a third more with the CPU shared six ways).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-ckpt-'))
    const file = path.join(dir, 'stream.db')
    const db = openDatabase({ sqliteFile: file })
    try {
      await sql`create table pages (body blob not null)`.execute(db.kysely)
      const pageSize = Number((await sql<{ page_size: number }>`pragma page_size`.execute(db.kysely)).rows[0]!.page_size)
      const rowsPerCommit = 64
      let largest = 0
      // Three times the fallback's pages, each row about one page, written without a pause.
      for (let written = 0; written < 3 * FALLBACK_AUTOCHECKPOINT_PAGES; written += rowsPerCommit) {
        await writeTransaction(db, (tx) =>
          sql`with recursive n (i) as (select 1 union all select i + 1 from n where i < ${rowsPerCommit})
            insert into pages (body) select randomblob(${pageSize - 200}) from n`.execute(tx.kysely),
        )
        largest = Math.max(largest, fs.statSync(`${file}-wal`).size)
      }
      // A frame is a page and a 24-byte header. Without the fallback the WAL would hold all three
      // times its pages; with it, it stays below twice.
      const bound = 2 * FALLBACK_AUTOCHECKPOINT_PAGES * (pageSize + 24) + 32
      assert.ok(largest <= bound, `the WAL grew to ${largest} bytes, beyond ${bound}`)
      assert.ok(largest > (FALLBACK_AUTOCHECKPOINT_PAGES / 2) * pageSize, `the WAL stayed at ${largest} bytes: did the writes reach it?`)
    } finally {
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('stop() waits for the worker to close its connection, and is safe to repeat', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-ckpt-'))
    const file = path.join(dir, 'x.db')
    const db = new SQLite(file)
    db.pragma('journal_mode = WAL')
    db.exec('create table t (x)')
    const checkpointer = new Checkpointer(file, () => assert.fail('the worker failed'))
    db.prepare('insert into t values (1)').run()
    checkpointer.wrote()
    assert.ok(await eventually(() => checkpointer.checkpoints > 0, 3000), 'no checkpoint ran')
    await checkpointer.stop()
    await checkpointer.stop()
    db.close()
    // The last connection to close removes the WAL: the worker's is closed too.
    assert.equal(fs.existsSync(`${file}-wal`), false)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
