import type pg from 'pg'
import type { PostgresPool, PostgresPoolClient } from 'kysely'

/**
 * Named (server-side prepared) statements for the hot queries on PostgreSQL.
 *
 * Kysely sends every query as an unnamed statement, which PostgreSQL parses and plans again on
 * each execution. For the hot queries (built once by prepared.ts) that planning was most of the
 * server's work: the version-and-pointers read took 217 µs unnamed against 84 µs prepared in
 * pgbench on one connection, the revision check 98 against 68 µs. A statement named here is
 * parsed once per pooled connection; pg skips the Parse message afterwards.
 *
 * Only statements whose result columns are spelled out are named (no `*`): PostgreSQL refuses a
 * prepared statement whose result type changed ("cached plan must not change result type"),
 * which a `*` would do when a migration by another replica adds a column. Should it happen anyway
 * (a column's type changed under a running process), the statement is no longer named from then
 * on, and the error counts as transient so a write transaction is retried (dialect.ts).
 */

const names = new Map<string, string>()
/** Never reused: a connection may still hold a statement under a name that was dropped here. */
let lastName = 0

/** A result list of `*` or `alias.*` (count(*) is fine: its type is fixed). */
const STAR_RESULT = /(^|[\s,(])select\s+(distinct\s+)?("?\w+"?\.)?\*|\.\*|returning\s+\*/i

/** Registers `sql` (a hot statement of fixed text) to run as a named statement; false when it may not. */
export function nameStatement(sql: string): boolean {
  if (names.has(sql)) return true
  if (STAR_RESULT.test(sql)) return false
  names.set(sql, `cr_${++lastName}`)
  return true
}

export function isStaleStatement(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === '0A000' &&
    /cached plan must not change result type/.test(String((error as { message?: unknown }).message))
  )
}

function namedClient(client: pg.PoolClient): PostgresPoolClient {
  async function named(name: string, text: string, values: unknown[]) {
    try {
      return await client.query({ name, text, values })
    } catch (error) {
      if (isStaleStatement(error)) names.delete(text)
      throw error
    }
  }
  // Not async: given a cursor (Kysely's streaming), pg returns the cursor itself.
  function query(text: unknown, values?: ReadonlyArray<unknown>): unknown {
    const name = typeof text === 'string' ? names.get(text) : undefined
    if (name !== undefined) return named(name, text as string, (values ?? []) as unknown[])
    const untyped = client as unknown as { query(...args: unknown[]): unknown }
    return values === undefined ? untyped.query(text) : untyped.query(text, values)
  }
  return { query: query as PostgresPoolClient['query'], release: (destroy?: boolean) => client.release(destroy) }
}

/** The pool Kysely uses: pg's, with the registered statements sent by name. */
export function withNamedStatements(pool: pg.Pool): PostgresPool {
  // Kysely keeps one connection object per client object: hand out the same wrapper each time.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    async connect() {
      const client = await pool.connect()
      let wrapper = wrappers.get(client)
      if (!wrapper) wrappers.set(client, (wrapper = namedClient(client)))
      return wrapper
    },
    end: () => pool.end(),
  }
}
