import type { Kysely } from 'kysely'
import { dialectOfKysely } from '../dialect.ts'

/**
 * Keeps name searches from slowing down under writes: PostgreSQL's trigram index from 0006 merges
 * queued entries once they pass 64 kB instead of 4 MB (see
 * Dialect.boundConnectorNameIndexPendingList). Nothing on SQLite. Frozen once landed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await dialectOfKysely(db).boundConnectorNameIndexPendingList(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dialectOfKysely(db).unboundConnectorNameIndexPendingList(db)
}
