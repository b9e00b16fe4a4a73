import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { sql } from 'kysely'
import { ConfigError, DEFAULT_SQLITE_CACHE_MB, loadConfig } from '../../src/config.ts'
import { openDatabase, type Db } from '../../src/db/database.ts'
import { testDialect } from '../helpers/database.ts'

test('SQLITE_CACHE_MB sizes the page cache: 16 MB by default, nonsense stops the start', () => {
  assert.equal(loadConfig({}).sqliteCacheMb, DEFAULT_SQLITE_CACHE_MB)
  assert.equal(DEFAULT_SQLITE_CACHE_MB, 16)
  assert.equal(loadConfig({ SQLITE_CACHE_MB: '64' }).sqliteCacheMb, 64)
  for (const bad of ['0', '-4', '1.5', 'lots', '5000']) {
    assert.throws(() => loadConfig({ SQLITE_CACHE_MB: bad }), ConfigError, bad)
  }
})

describe('the SQLite connection', { skip: testDialect !== 'sqlite' && 'SQLite only' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-db-'))
  const opened: Db[] = []
  after(async () => {
    for (const db of opened) await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  async function cacheSizeKib(sqliteCacheMb: number | undefined, name: string): Promise<number> {
    const db = openDatabase({ sqliteFile: path.join(dir, name), backgroundCheckpoints: false, ...(sqliteCacheMb === undefined ? {} : { sqliteCacheMb }) })
    opened.push(db)
    const { rows } = await sql<{ cache_size: number }>`pragma cache_size`.execute(db.kysely)
    return -rows[0]!.cache_size
  }

  test('gets the page cache it is given, in MiB', async () => {
    assert.equal(await cacheSizeKib(64, 'a.db'), 64 * 1024)
    assert.equal(await cacheSizeKib(DEFAULT_SQLITE_CACHE_MB, 'b.db'), 16 * 1024)
  })

  test('without a size keeps the driver build default, which the configured default matches', async () => {
    const kib = await cacheSizeKib(undefined, 'c.db')
    // better-sqlite3 builds SQLite with SQLITE_DEFAULT_CACHE_SIZE=-16000 (KiB).
    assert.equal(Math.round(kib / 1024), DEFAULT_SQLITE_CACHE_MB)
  })
})
