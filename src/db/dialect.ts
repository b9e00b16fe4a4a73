import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely'
import type { Db } from './database.ts'
import { isStaleStatement } from './pg-statements.ts'
import { prepared } from './prepared.ts'
import type { ConnectorsTable } from './schema.ts'

/**
 * Every difference between SQLite and PostgreSQL lives here; repositories and migrations
 * call these helpers and otherwise stay dialect-neutral.
 */
export type DialectName = 'sqlite' | 'postgres'

export interface Dialect {
  name: DialectName
  /** The database clock as an ISO-8601 UTC string with milliseconds. */
  now(): RawBuilder<string>
  /**
   * publishedAt for a version of `connector_versions` being published, in that UPDATE's SET: now,
   * or one millisecond after the connector's latest publish when the clock has not passed it (two
   * publishes in one millisecond, a clock stepped back). latest is the greatest publishedAt, so
   * it follows the order of publishes, never a tie broken by creation order.
   */
  publishedNow(): RawBuilder<string>
  /** Statement opening a write transaction. */
  beginWrite: string
  /**
   * WITH may hold UPDATE … RETURNING (PostgreSQL), so dependent writes can be one statement: one
   * round trip, atomic without a transaction. SQLite's WITH holds only SELECTs.
   */
  writesInWith: boolean
  /**
   * How a name-filtered listing's first page and count are read (connectorsListing): `window`,
   * one pass that sorts every match with count(*) over (); or `materialized`, the matches' sort
   * keys in a materialised CTE that is counted and sorted, the page's rows read last, sent as a
   * named statement. On PostgreSQL (pgbench, one connection, the bench's catalogues) the second
   * took 1,106 against 3,239 µs for 1,000 matches and, named, 105 against 163 µs for 10; unnamed,
   * its longer planning made it slower for few matches (303 µs). On SQLite, which caches its
   * prepared statements anyway, it cost the small catalogue 15-22 % (round 10), and listings are
   * remembered there.
   */
  nameFilteredFirstPage: 'window' | 'materialized'
  /**
   * Takes the per-connector write lock inside a write transaction and tells whether the
   * connector exists in the organisation. SQLite's BEGIN IMMEDIATE already holds the database
   * write lock; PostgreSQL locks the connector row, serialising writers of one connector.
   */
  lockConnector(tx: Db, organisationId: string, connectorId: string): Promise<boolean>
  /**
   * The same lock for a writer whose next query checks the connector itself (in the same
   * organisation-scoped query that reads what it changes): nothing more to do on SQLite, whose
   * BEGIN IMMEDIATE already holds the lock; PostgreSQL locks the row if it exists.
   */
  lockConnectorUnchecked(tx: Db, organisationId: string, connectorId: string): Promise<void>
  /** True for errors a retried transaction can succeed after (serialization failure, deadlock, busy). */
  isTransient(error: unknown): boolean
  /** True when the error is a unique-key violation. */
  isUniqueViolation(error: unknown): boolean
  /**
   * The connectors whose name contains `text`, ignoring case, as a parenthesised query selecting
   * `columns` of `connectors` (callers alias it `connectors` and add their other filters; every
   * column they use must be listed). Spelled out rather than `*`, so that PostgreSQL may run a
   * statement using it as a named one (pg-statements.ts).
   * `%`, `_` and `\` are ordinary characters. Patterns of 3 characters or more are answered from
   * the name index (SQLite FTS5 trigram table, PostgreSQL pg_trgm GIN index on lower(name));
   * shorter ones cannot be, and read the connectors of the listing instead.
   */
  connectorsNamed(text: string, columns: readonly (keyof ConnectorsTable & string)[]): RawBuilder<ConnectorsTable>
  /** Migration 0006: the name index, kept in step with `connectors` by the database, filled from existing rows. */
  createConnectorNameIndex(db: Kysely<unknown>): Promise<void>
  dropConnectorNameIndex(db: Kysely<unknown>): Promise<void>
  /**
   * Migration 0008: bounds how much of the name index's new entries a search must read linearly.
   * PostgreSQL's GIN index queues the entries of inserted and updated rows in a pending list,
   * merged into the index by VACUUM or once the list passes `gin_pending_list_limit` (4 MB by
   * default), and every search scans the whole list. Every write to a connector updates its row
   * (its `updatedAt` and revision) and, `updated_at` being indexed, adds index entries, so a
   * few thousand writes made each name search scan thousands of queued rows until autovacuum
   * ran. SQLite's trigram table changes only with a name: nothing to do.
   */
  boundConnectorNameIndexPendingList(db: Kysely<unknown>): Promise<void>
  unboundConnectorNameIndexPendingList(db: Kysely<unknown>): Promise<void>
}

/** Shortest pattern a trigram index can answer: shorter ones fall back to reading the rows. */
export const NAME_INDEX_MIN_CHARS = 3

/** `%text%` for LIKE … ESCAPE '\', with the text's own `\`, `%` and `_` matching literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/**
 * Spellings of `text` differing only in the case of single characters, for the short-pattern
 * fallback on SQLite (whose lower() folds ASCII only). Each character may appear as itself, its
 * lower or its upper case form when those are single characters too; at most 3^2 spellings.
 */
export function caseVariants(text: string): string[] {
  let variants = ['']
  for (const c of text) {
    const forms = new Set([c, c.toLowerCase(), c.toUpperCase(), c.toUpperCase().toLowerCase()].filter((f) => [...f].length === 1))
    variants = variants.flatMap((prefix) => [...forms].map((f) => prefix + f))
  }
  return [...new Set(variants)]
}

/** `a, b` or `t.a, t.b`: columns spelled out, so a statement using them may be named (pg-statements.ts). */
function columnList(columns: readonly string[], table?: string) {
  return sql.join(columns.map((c) => sql.ref(table ? `${table}.${c}` : c)))
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/**
 * True when PostgreSQL refused a text value it cannot store (U+0000, SQLSTATE 22021 / 22P05):
 * the client's input, answered with a 400. SQLite stores such text as is.
 */
export function isUnstorableText(error: unknown): boolean {
  const code = errorCode(error)
  return code === '22021' || code === '22P05'
}

function connectorQuery({ kysely }: Db, p: { organisationId: string; connectorId: string }) {
  return kysely.selectFrom('connectors').select('id').where('id', '=', p.connectorId).where('organisation_id', '=', p.organisationId)
}
const connectorExists = prepared(connectorQuery)
const lockConnectorRow = prepared((db, p: { organisationId: string; connectorId: string }) => connectorQuery(db, p).forUpdate())

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  now: () => sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
  // SQLite's date arithmetic counts whole milliseconds, so '+0.001 seconds' is exact.
  publishedNow: () => sql<string>`max(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), coalesce((
    select strftime('%Y-%m-%dT%H:%M:%fZ', max(p.published_at), '+0.001 seconds')
    from connector_versions as p where p.connector_id = connector_versions.connector_id), ''))`,
  // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading a read lock.
  beginWrite: 'begin immediate',
  writesInWith: false,
  nameFilteredFirstPage: 'window',
  async lockConnector(tx, organisationId, connectorId) {
    return (await connectorExists(tx, { organisationId, connectorId })).length > 0
  },
  async lockConnectorUnchecked() {},
  isTransient: (error) => {
    const code = errorCode(error)
    return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT'
  },
  isUniqueViolation: (error) => {
    const code = errorCode(error)
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  },
  connectorsNamed(text, columns) {
    if (text.includes('\u0000')) {
      // FTS5 reads its query up to the first U+0000; such text (stored as is by SQLite) is matched
      // by reading the rows, folding ASCII only.
      return sql<ConnectorsTable>`(select ${columnList(columns)} from connectors where lower(name) like lower(${containsPattern(text)}) escape '\\')`
    }
    if ([...text].length >= NAME_INDEX_MIN_CHARS) {
      // A quoted FTS5 phrase of trigrams is a substring match; FTS5 folds the case of both sides
      // (Unicode, one character to one). CROSS JOIN fixes the order: from the index to the rows.
      const phrase = `"${text.replaceAll('"', '""')}"`
      return sql<ConnectorsTable>`(select ${columnList(columns, 'c')} from connector_name_fts as f cross join connector_name_search as s on s.rowid = f.rowid cross join connectors as c on c.id = s.connector_id where connector_name_fts match ${phrase})`
    }
    const tests = caseVariants(text).map((v) => sql`instr(name, ${v}) > 0`)
    return sql<ConnectorsTable>`(select ${columnList(columns)} from connectors where (${sql.join(tests, sql` or `)}))`
  },
  async createConnectorNameIndex(db) {
    // connectors has no INTEGER PRIMARY KEY, so its implicit rowid may change on VACUUM: the
    // index is keyed by a rowid of its own, mapped to the connector id here.
    await sql`create table connector_name_search (
      key integer primary key,
      connector_id text not null unique
    )`.execute(db)
    // Contentless: only the trigrams are stored; contentless_delete allows delete by rowid.
    await sql`create virtual table connector_name_fts using fts5(
      name, tokenize = 'trigram', content = '', contentless_delete = 1
    )`.execute(db)
    await sql`create trigger connectors_name_search_insert after insert on connectors begin
      insert into connector_name_search (connector_id) values (new.id);
      insert into connector_name_fts (rowid, name) select key, new.name from connector_name_search where connector_id = new.id;
    end`.execute(db)
    await sql`create trigger connectors_name_search_update after update of name on connectors when new.name is not old.name begin
      delete from connector_name_fts where rowid = (select key from connector_name_search where connector_id = old.id);
      insert into connector_name_fts (rowid, name) select key, new.name from connector_name_search where connector_id = new.id;
    end`.execute(db)
    await sql`create trigger connectors_name_search_delete after delete on connectors begin
      delete from connector_name_fts where rowid = (select key from connector_name_search where connector_id = old.id);
      delete from connector_name_search where connector_id = old.id;
    end`.execute(db)
    await sql`insert into connector_name_search (connector_id) select id from connectors order by id`.execute(db)
    await sql`insert into connector_name_fts (rowid, name)
      select s.key, c.name from connector_name_search as s join connectors as c on c.id = s.connector_id`.execute(db)
  },
  async dropConnectorNameIndex(db) {
    for (const trigger of ['insert', 'update', 'delete']) await sql.raw(`drop trigger if exists connectors_name_search_${trigger}`).execute(db)
    await sql`drop table if exists connector_name_fts`.execute(db)
    await sql`drop table if exists connector_name_search`.execute(db)
  },
  async boundConnectorNameIndexPendingList() {},
  async unboundConnectorNameIndexPendingList() {},
}

export const postgresDialect: Dialect = {
  name: 'postgres',
  // statement_timestamp(), like SQLite's 'now', is one instant for the whole statement: a row's
  // createdAt and updatedAt written by one INSERT are equal (clock_timestamp() was read per column
  // and could straddle a millisecond). It still advances from one statement to the next.
  now: () => sql<string>`to_char(statement_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  // The stored text's Z is ignored by ::timestamp, which is what is wanted: it is UTC already.
  publishedNow: () => sql<string>`greatest(to_char(statement_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), coalesce((
    select to_char(max(p.published_at)::timestamp + interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    from connector_versions as p where p.connector_id = connector_versions.connector_id), ''))`,
  beginWrite: 'begin',
  writesInWith: true,
  nameFilteredFirstPage: 'materialized',
  async lockConnector(tx, organisationId, connectorId) {
    return (await lockConnectorRow(tx, { organisationId, connectorId })).length > 0
  },
  async lockConnectorUnchecked(tx, organisationId, connectorId) {
    await lockConnectorRow(tx, { organisationId, connectorId })
  },
  isTransient: (error) => {
    const code = errorCode(error)
    // A prepared statement outdated by another replica's migration runs unnamed when retried.
    return code === '40001' || code === '40P01' || isStaleStatement(error)
  },
  isUniqueViolation: (error) => errorCode(error) === '23505',
  connectorsNamed(text, columns) {
    // The planner answers this from the GIN trigram index on lower(name) when the pattern has a
    // trigram (3+ characters), rechecking every candidate with the same expression.
    return sql<ConnectorsTable>`(select ${columnList(columns)} from connectors where lower(name) like lower(${containsPattern(text)}) escape '\\')`
  },
  async createConnectorNameIndex(db) {
    // pg_trgm ships with PostgreSQL (contrib) and is a trusted extension from PostgreSQL 13, so
    // a database owner may create it. Where it is missing or refused, listings stay correct and
    // read the organisation's connectors instead; the README gives the statements to run later.
    await sql`savepoint pg_trgm`.execute(db)
    try {
      await sql`create extension if not exists pg_trgm`.execute(db)
      await sql`release savepoint pg_trgm`.execute(db)
    } catch (error) {
      await sql`rollback to savepoint pg_trgm`.execute(db)
      process.emitWarning(
        `pg_trgm is not available (${error instanceof Error ? error.message : String(error)}): ` +
          'the connector name filter will read every connector of a listing. See README, Lists.',
      )
      return
    }
    await sql`create index connectors_name_trgm on connectors using gin (lower(name) gin_trgm_ops)`.execute(db)
  },
  async dropConnectorNameIndex(db) {
    // The extension stays: other objects may use it.
    await sql`drop index if exists connectors_name_trgm`.execute(db)
  },
  async boundConnectorNameIndexPendingList(db) {
    // 64 kB (the least allowed) holds the entries of a few hundred connector writes: searches scan
    // at most that, and writes still add entries in batches. The index is absent where pg_trgm was
    // not available to migration 0006.
    await sql`alter index if exists connectors_name_trgm set (gin_pending_list_limit = 64)`.execute(db)
  },
  async unboundConnectorNameIndexPendingList(db) {
    await sql`alter index if exists connectors_name_trgm reset (gin_pending_list_limit)`.execute(db)
  },
}

/** The dialect of a Kysely instance, for migrations (which get a bare Kysely). */
export function dialectOfKysely(db: Kysely<unknown>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresDialect : sqliteDialect
}
