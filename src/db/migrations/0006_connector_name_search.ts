import type { Kysely } from 'kysely'
import { dialectOfKysely } from '../dialect.ts'

/**
 * An index for the ListConnectors `name` filter (case-insensitive substring): an FTS5 trigram
 * table kept in step by triggers on SQLite, a pg_trgm GIN index on lower(name) on PostgreSQL.
 * Existing connectors are indexed here. Frozen once landed; independent of 0005.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await dialectOfKysely(db).createConnectorNameIndex(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dialectOfKysely(db).dropConnectorNameIndex(db)
}
