import { Migrator, type Migration, type MigrationProvider } from 'kysely'
import type { Db } from './database.ts'
import * as initial from './migrations/0001_initial.ts'
import * as idempotency from './migrations/0002_idempotency.ts'
import * as apiKeyScope from './migrations/0003_api_key_scope.ts'
import * as content from './migrations/0004_content.ts'
import * as versionRevision from './migrations/0005_version_revision.ts'
import * as connectorNameSearch from './migrations/0006_connector_name_search.ts'
import * as connectorRevision from './migrations/0007_connector_revision.ts'
import * as connectorNameIndexPendingList from './migrations/0008_connector_name_index_pending_list.ts'

// Listed statically so migrations work the same from source, tests and any bundle.
const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_idempotency': idempotency,
  '0003_api_key_scope': apiKeyScope,
  '0004_content': content,
  '0005_version_revision': versionRevision,
  '0006_connector_name_search': connectorNameSearch,
  '0007_connector_revision': connectorRevision,
  '0008_connector_name_index_pending_list': connectorNameIndexPendingList,
}

const provider: MigrationProvider = { getMigrations: async () => migrations }

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Migrates up or down to `name` (a key of the list above): operators' rollbacks, and tests of a migration on existing data. */
export async function migrateTo(db: Db, name: string): Promise<void> {
  const migrator = new Migrator({ db: db.kysely, provider })
  const { error } = await migrator.migrateTo(name)
  if (error) throw error instanceof Error ? error : new Error(String(error))
}
