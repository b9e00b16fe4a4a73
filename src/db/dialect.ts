import { sql, type RawBuilder } from 'kysely'
import type { Db } from './database.ts'
import { prepared } from './prepared.ts'

/**
 * Every difference between SQLite and PostgreSQL lives here; repositories and migrations
 * call these helpers and otherwise stay dialect-neutral.
 */
export type DialectName = 'sqlite' | 'postgres'

export interface Dialect {
  name: DialectName
  /** The database clock as an ISO-8601 UTC string with milliseconds. */
  now(): RawBuilder<string>
  /** Statement opening a write transaction. */
  beginWrite: string
  /**
   * Takes the per-connector write lock inside a write transaction and tells whether the
   * connector exists in the organisation. SQLite's BEGIN IMMEDIATE already holds the database
   * write lock; PostgreSQL locks the connector row, serialising writers of one connector.
   */
  lockConnector(tx: Db, organisationId: string, connectorId: string): Promise<boolean>
  /** True for errors a retried transaction can succeed after (serialization failure, deadlock, busy). */
  isTransient(error: unknown): boolean
  /** True when the error is a unique-key violation. */
  isUniqueViolation(error: unknown): boolean
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
  // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading a read lock.
  beginWrite: 'begin immediate',
  async lockConnector(tx, organisationId, connectorId) {
    return (await connectorExists(tx, { organisationId, connectorId })).length > 0
  },
  isTransient: (error) => {
    const code = errorCode(error)
    return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT'
  },
  isUniqueViolation: (error) => {
    const code = errorCode(error)
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  },
}

export const postgresDialect: Dialect = {
  name: 'postgres',
  now: () => sql<string>`to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  beginWrite: 'begin',
  async lockConnector(tx, organisationId, connectorId) {
    return (await lockConnectorRow(tx, { organisationId, connectorId })).length > 0
  },
  isTransient: (error) => {
    const code = errorCode(error)
    return code === '40001' || code === '40P01'
  },
  isUniqueViolation: (error) => errorCode(error) === '23505',
}
