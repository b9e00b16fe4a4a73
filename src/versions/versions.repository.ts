import type { Db } from '../db/database.ts'
import type { ConnectorVersionsTable } from '../db/schema.ts'
import type { KeysetSource, SortKey } from '../http/pagination.ts'
import { newId } from '../ids.ts'
import { aliasOf, effectiveDefaultId, type Pointers, type VersionState } from './version-rules.ts'

export interface VersionRecord extends VersionState {
  connectorId: string
}

function toRecord(row: ConnectorVersionsTable): VersionRecord {
  return {
    id: row.id,
    connectorId: row.connector_id,
    name: row.name,
    description: row.description,
    publishedAt: row.published_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** latest and the pinned default of one connector, in one round trip using the indexes. */
export async function findPointers(db: Db, connectorId: string): Promise<Pointers> {
  const row = await db.kysely
    .selectNoFrom((eb) => [
      eb
        .selectFrom('connector_versions')
        .select('id')
        .where('connector_id', '=', connectorId)
        .where('published_at', 'is not', null)
        .orderBy('published_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .as('latest_id'),
      eb.selectFrom('connector_defaults').select('version_id').where('connector_id', '=', connectorId).as('pinned_id'),
    ])
    .executeTakeFirstOrThrow()
  return { latestId: row.latest_id ?? null, pinnedDefaultId: row.pinned_id ?? null }
}

export async function findVersionByName(db: Db, connectorId: string, name: string): Promise<VersionRecord | undefined> {
  const row = await db.kysely
    .selectFrom('connector_versions')
    .selectAll()
    .where('connector_id', '=', connectorId)
    .where('name', '=', name)
    .executeTakeFirst()
  return row && toRecord(row)
}

async function findVersionById(db: Db, connectorId: string, id: string): Promise<VersionRecord | undefined> {
  const row = await db.kysely
    .selectFrom('connector_versions')
    .selectAll()
    .where('connector_id', '=', connectorId)
    .where('id', '=', id)
    .executeTakeFirst()
  return row && toRecord(row)
}

/** Resolves a `{version}` path segment: a name, or the alias `latest` / `default` in any case. */
export async function resolveVersion(
  db: Db,
  connectorId: string,
  ref: string,
): Promise<{ version: VersionRecord; pointers: Pointers } | undefined> {
  const pointers = await findPointers(db, connectorId)
  const alias = aliasOf(ref)
  let version: VersionRecord | undefined
  if (alias) {
    const id = alias === 'latest' ? pointers.latestId : effectiveDefaultId(pointers)
    version = id === null ? undefined : await findVersionById(db, connectorId, id)
  } else {
    version = await findVersionByName(db, connectorId, ref)
  }
  return version && { version, pointers }
}

export async function insertVersion(
  db: Db,
  version: { connectorId: string; name: string; description: string | null },
): Promise<VersionRecord> {
  const now = db.dialect.now()
  const row = await db.kysely
    .insertInto('connector_versions')
    .values({
      id: newId(),
      connector_id: version.connectorId,
      name: version.name,
      description: version.description,
      published_at: null,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toRecord(row)
}

export async function updateVersion(
  db: Db,
  id: string,
  changes: { name?: string; description?: string | null; published?: boolean },
): Promise<VersionRecord> {
  const now = db.dialect.now()
  const row = await db.kysely
    .updateTable('connector_versions')
    .set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.published !== undefined ? { published_at: changes.published ? now : null } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
  return toRecord(row)
}

export async function deleteVersion(db: Db, id: string): Promise<void> {
  await db.kysely.deleteFrom('connector_versions').where('id', '=', id).execute()
}

export async function pinDefault(db: Db, connectorId: string, versionId: string): Promise<void> {
  await db.kysely
    .insertInto('connector_defaults')
    .values({ connector_id: connectorId, version_id: versionId })
    .onConflict((oc) => oc.column('connector_id').doUpdateSet({ version_id: versionId }))
    .execute()
}

export async function unpinDefault(db: Db, connectorId: string): Promise<void> {
  await db.kysely.deleteFrom('connector_defaults').where('connector_id', '=', connectorId).execute()
}

/** Every version of the given connectors, oldest first, with each connector's pointers. */
export async function listVersionsOf(
  db: Db,
  connectorIds: readonly string[],
): Promise<{ versions: VersionRecord[]; pinned: Map<string, string> }> {
  if (connectorIds.length === 0) return { versions: [], pinned: new Map() }
  const [rows, pins] = await Promise.all([
    db.kysely
      .selectFrom('connector_versions')
      .selectAll()
      .where('connector_id', 'in', connectorIds)
      .orderBy('connector_id')
      .orderBy('id')
      .execute(),
    db.kysely.selectFrom('connector_defaults').selectAll().where('connector_id', 'in', connectorIds).execute(),
  ])
  return { versions: rows.map(toRecord), pinned: new Map(pins.map((p) => [p.connector_id, p.version_id])) }
}

const VERSION_ORDER: SortKey[] = [
  { column: 'updated_at', direction: 'desc' },
  { column: 'id', direction: 'desc' },
]

/** ListConnectorVersions: most recently updated first, id as the tiebreak. */
export function versionsListing(db: Db, connectorId: string): KeysetSource<VersionRecord> {
  return {
    keys: VERSION_ORDER,
    scope: `versions:${connectorId}`,
    valuesOf: (v) => [v.updatedAt, v.id],
    async fetch(condition, order, limit) {
      let query = db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', connectorId)
      if (condition) query = query.where(condition)
      for (const key of order) query = query.orderBy(key.column as 'id', key.direction)
      return (await query.limit(limit).execute()).map(toRecord)
    },
    async count() {
      const row = await db.kysely
        .selectFrom('connector_versions')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('connector_id', '=', connectorId)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}
