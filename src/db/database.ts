import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import type pg from 'pg'
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely'
import type { Database } from './schema.ts'
import { postgresDialect, sqliteDialect, type Dialect } from './dialect.ts'
import { COMMIT, MAX_WRITE_ATTEMPTS, pauseBeforeRetry, ROLLBACK } from './transaction-control.ts'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.ts'
import { withNamedStatements } from './pg-statements.ts'
import { ReadMemo } from './read-memo.ts'
import { WriteBatcher } from './write-batcher.ts'

export interface Db {
  kysely: Kysely<Database>
  dialect: Dialect
  /** Human-readable location, for start-up logs (never includes a password). */
  location: string
  close(): Promise<void>
  /** SQLite: write transactions that queue up together share one commit (see write-batcher.ts). */
  writes?: WriteBatcher | undefined
  /** SQLite: values read, reused until the database may have changed (read-memo.ts). */
  memo?: ReadMemo | undefined
}

export interface DatabaseOptions {
  /** postgres://… selects PostgreSQL; otherwise SQLite at `sqliteFile`. */
  databaseUrl?: string | undefined
  poolMax?: number
  sqliteFile?: string
  /**
   * SQLite: checkpoint the WAL on a worker thread instead of inside a request's COMMIT
   * (checkpointer.ts). Default on for a database file; short-lived commands turn it off.
   */
  backgroundCheckpoints?: boolean
  /** SQLite: the connection's page cache; SQLite's (better-sqlite3's build) default when absent. */
  sqliteCacheMb?: number
}

export function sqliteFileIn(dataDir: string): string {
  return path.join(dataDir, 'registry.db')
}

/**
 * The PostgreSQL driver, loaded only by a server that uses it: on the embedded default its ~3 MB
 * of heap are spent for nothing (with ioredis, ~5 MB of the idle server's RSS; docs/performance.md,
 * round 14). Synchronously, so opening stays synchronous.
 */
function loadPg(): typeof pg {
  return createRequire(import.meta.url)('pg') as typeof pg
}

export function openDatabase(options: DatabaseOptions): Db {
  if (options.databaseUrl) {
    const pool = new (loadPg().Pool)({ connectionString: options.databaseUrl, max: options.poolMax ?? 10 })
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {})
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) })
    const url = new URL(options.databaseUrl)
    url.password = ''
    return { kysely, dialect: postgresDialect, location: url.toString(), close: () => kysely.destroy() }
  }
  const file = options.sqliteFile
  if (!file) throw new Error('sqliteFile is required without a databaseUrl')
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true })
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  // WAL + NORMAL survives a process crash (kill -9) without losing committed transactions.
  sqlite.pragma('synchronous = NORMAL')
  // A negative cache_size is in KiB.
  if (options.sqliteCacheMb !== undefined) sqlite.pragma(`cache_size = -${options.sqliteCacheMb * 1024}`)
  const dataVersion = sqlite.prepare('pragma data_version').pluck()
  const memo = new ReadMemo(READ_MEMO_ENTRIES, () => dataVersion.get() as number)
  const checkpointer = file !== ':memory:' && options.backgroundCheckpoints !== false ? startCheckpointer(sqlite, file) : undefined
  const changed = checkpointer
    ? () => {
        memo.changed()
        checkpointer.wrote()
      }
    : () => memo.changed()
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, changed) }) })
  const close = async () => {
    // The worker's connection closes first, so the server's is the last one and removes the WAL.
    await checkpointer?.stop()
    await kysely.destroy()
  }
  const db: Db = { kysely, dialect: sqliteDialect, location: file, close, memo }
  db.writes = new WriteBatcher(db, { maxBatch: WRITE_BATCH_MAX, maxAttempts: MAX_WRITE_ATTEMPTS, isTransient: sqliteDialect.isTransient })
  return db
}

function startCheckpointer(sqlite: SQLite.Database, file: string): Checkpointer {
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
  // Without the worker, SQLite's own checkpoints take over again at their usual size.
  return new Checkpointer(file, () => sqlite.open && sqlite.pragma('wal_autocheckpoint = 1000'))
}

const STATEMENT_CACHE_SIZE = 500
const READ_MEMO_ENTRIES = 10_000

interface CachedStatement {
  statement: SQLite.Statement
  /**
   * May write (SQLite's own verdict), or ends a transaction (COMMIT, END, ROLLBACK, which SQLite
   * counts as read-only): a commit is what makes writes visible to the checkpointer's connection.
   */
  changes: boolean
}

/**
 * Kysely prepares every query anew, and compiling SQL was the largest single cost of a request
 * (benchmarks: a fifth of the CPU). Compiled statements are reused per SQL text; the oldest is
 * evicted beyond the limit (hot statements come straight back, and a hit stays a single map
 * lookup); a statement still iterating (streamed) is never handed out twice.
 *
 * Kysely's driver prepares right before it runs, so this is also where the read memo (and the
 * background checkpointer) learn of every statement of this connection that may change the
 * database: `changed` runs before each.
 */
function withStatementCache(sqlite: SQLite.Database, changed: () => void): SqliteDatabase {
  const cache = new Map<string, CachedStatement>()
  return {
    close: () => sqlite.close(),
    prepare(sqlText: string) {
      let cached = cache.get(sqlText)
      if (!cached || cached.statement.busy) {
        const statement = sqlite.prepare(sqlText)
        cached = { statement, changes: !statement.readonly || /^\s*(rollback|commit|end)\b/i.test(sqlText) }
        cache.set(sqlText, cached)
        if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!)
      }
      if (cached.changes) changed()
      return cached.statement
    },
  }
}

const WRITE_BATCH_MAX = 32

/**
 * Runs `work` in one write transaction on one connection. Transient failures (serialization
 * failures, deadlocks, SQLITE_BUSY) are retried with jittered back-off so clients never see them.
 * On SQLite, write transactions requested together share one commit (write-batcher.ts).
 */
export async function writeTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  if (db.writes) return db.writes.run(work)
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.kysely.connection().execute(async (conn) => {
        await conn.executeQuery(CompiledQuery.raw(db.dialect.beginWrite))
        try {
          const result = await work({ ...db, kysely: conn })
          await conn.executeQuery(COMMIT)
          return result
        } catch (error) {
          await conn.executeQuery(ROLLBACK).catch(() => {})
          throw error
        }
      })
    } catch (error) {
      if (attempt >= MAX_WRITE_ATTEMPTS || !db.dialect.isTransient(error)) throw error
      await pauseBeforeRetry(attempt)
    }
  }
}
