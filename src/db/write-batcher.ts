import { CompiledQuery } from 'kysely'
import type { Db } from './database.ts'
import { COMMIT, pauseBeforeRetry, ROLLBACK } from './transaction-control.ts'

interface PendingWrite {
  work: (tx: Db) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  attempts: number
  /** Runs in a transaction of its own: set after a shared commit failed. */
  alone: boolean
}

const SAVEPOINT = CompiledQuery.raw('savepoint batched_write')
const ROLLBACK_TO = CompiledQuery.raw('rollback to batched_write')
const RELEASE = CompiledQuery.raw('release batched_write')

export interface WriteBatcherOptions {
  /** Most write transactions sharing one commit. */
  maxBatch: number
  /** Attempts per write transaction before a transient failure reaches the caller. */
  maxAttempts: number
  isTransient(error: unknown): boolean
}

/**
 * Group commit for SQLite. A commit costs more than a typical write transaction's statements: it
 * appends every page the transaction dirtied to the WAL, takes and releases the file locks, and
 * every thousand pages pays a checkpoint with two fsyncs. Write transactions requested together
 * (by requests that arrived in the same turn of the event loop) therefore run one after another
 * inside one database transaction and share its commit; pages they all touch (index tails, a
 * connector's row) are written once.
 *
 * Each keeps its own atomicity: after the first, every write transaction runs inside a
 * savepoint, and one that fails is rolled back to it alone (the first one's failure rolls back
 * the transaction, which holds nothing else). Callers hear of success only after the shared
 * commit, so nothing a caller was told can be lost in a crash. When a shared commit fails, each
 * of its write transactions runs again in a transaction of its own, so one cannot fail another.
 * All queries share the one connection (Kysely's SQLite driver serialises them): readers never
 * see a batch before it commits, and writers still run strictly one at a time, as before.
 */
export class WriteBatcher {
  private readonly queue: PendingWrite[] = []
  private draining = false
  private readonly counts = { commits: 0, writes: 0 }
  /** The dialect's BEGIN for writers (SQLite: BEGIN IMMEDIATE, so the write lock is taken up front). */
  private readonly begin: CompiledQuery

  constructor(
    private readonly db: Db,
    private readonly options: WriteBatcherOptions,
  ) {
    this.begin = CompiledQuery.raw(db.dialect.beginWrite)
  }

  /** Runs `work` in a write transaction, possibly shared with others; settles after the commit. */
  run<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject, attempts: 0, alone: false })
      if (this.draining) return
      this.draining = true
      // better-sqlite3 answers synchronously, so a batch started now would hold only this write.
      // Started once the event loop has run the callbacks of its poll phase, it holds the writes
      // of every request that arrived in that phase.
      setImmediate(() => void this.drain())
    })
  }

  /** Committed transactions and the write transactions they held, since start-up. */
  stats(): { commits: number; writes: number } {
    return { ...this.counts }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.runBatch()
    } catch (error) {
      // Not expected (runBatch settles every write it takes), but nothing may wait forever.
      for (const write of this.queue.splice(0)) write.reject(error)
    } finally {
      this.draining = false
    }
  }

  private async runBatch(): Promise<void> {
    const { db, options } = this
    for (let beginFailures = 0; ; ) {
      try {
        await db.kysely.connection().execute((conn) => this.runBatchOn({ ...db, kysely: conn, writes: undefined }))
        return
      } catch (error) {
        // Taking the connection or BEGIN IMMEDIATE failed (another process held the write lock
        // beyond busy_timeout, or the database is closed).
        if (++beginFailures >= options.maxAttempts || !options.isTransient(error)) {
          for (const write of this.queue.splice(0)) write.reject(error)
          return
        }
        await pauseBeforeRetry(beginFailures)
      }
    }
  }

  private async runBatchOn(tx: Db): Promise<void> {
    const conn = tx.kysely
    await conn.executeQuery(this.begin)
    const done: { write: PendingWrite; result: unknown }[] = []
    // Taken from the queue but neither settled nor done: a failing savepoint statement must not lose it.
    let unsettled: PendingWrite | undefined
    try {
      while (this.queue.length > 0 && done.length < this.options.maxBatch) {
        if (this.queue[0]!.alone && done.length > 0) break
        const write = (unsettled = this.queue.shift()!)
        write.attempts++
        const first = done.length === 0
        if (!first) await conn.executeQuery(SAVEPOINT)
        let result: unknown
        try {
          result = await write.work(tx)
        } catch (error) {
          unsettled = undefined
          this.settleFailure(write, error)
          // The first write transaction is undone with the transaction, which holds nothing else.
          if (first) return void (await conn.executeQuery(ROLLBACK))
          await conn.executeQuery(ROLLBACK_TO)
          await conn.executeQuery(RELEASE)
          continue
        }
        if (!first) await conn.executeQuery(RELEASE)
        unsettled = undefined
        done.push({ write, result })
        if (write.alone) break
      }
      await conn.executeQuery(COMMIT)
    } catch (error) {
      // The commit or a savepoint statement failed, and nothing of the batch is stored.
      await conn.executeQuery(ROLLBACK).catch(() => {})
      const writes = done.map(({ write }) => write).concat(unsettled ?? [])
      if (writes.length === 1) return this.settleFailure(writes[0]!, error)
      // Which one made it fail is unknown: each runs again alone, and fails only for itself.
      for (const write of writes) write.alone = true
      this.queue.unshift(...writes)
      return
    }
    this.counts.commits++
    this.counts.writes += done.length
    for (const { write, result } of done) write.resolve(result)
  }

  /** A transient failure goes back to the front of the queue until its attempts run out. */
  private settleFailure(write: PendingWrite, error: unknown): void {
    if (write.attempts < this.options.maxAttempts && this.options.isTransient(error)) this.queue.unshift(write)
    else write.reject(error)
  }
}
