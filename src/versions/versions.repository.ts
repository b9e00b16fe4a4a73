import type { ExpressionBuilder, Kysely, Selectable } from 'kysely'
import type { Db } from '../db/database.ts'
import { prepared } from '../db/prepared.ts'
import type { Database } from '../db/schema.ts'
import type { ConnectorVersionsTable } from '../db/schema.ts'
import { keysetCondition, reversed, type Anchor, type KeysetSource, type SortKey } from '../http/pagination.ts'
import { newId } from '../ids.ts'
import { aliasOf, type Pointers, type VersionState } from './version-rules.ts'

export interface VersionRecord extends VersionState {
  connectorId: string
  /** Moves with every change to the version or its content. */
  revision: number
}

/**
 * Every column, spelled out for the prepared queries: a named statement on PostgreSQL must not
 * select `*` (pg-statements.ts). toRecord's parameter type keeps the list complete.
 */
const VERSION_COLUMNS = ['id', 'connector_id', 'name', 'description', 'published_at', 'created_at', 'updated_at', 'revision'] as const

function toRecord(row: Selectable<ConnectorVersionsTable>): VersionRecord {
  return {
    id: row.id,
    connectorId: row.connector_id,
    name: row.name,
    description: row.description,
    publishedAt: row.published_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revision: row.revision,
  }
}

function latestIdQuery(kysely: Kysely<Database>, connectorId: string) {
  return kysely
    .selectFrom('connector_versions')
    .select('id')
    .where('connector_id', '=', connectorId)
    .where('published_at', 'is not', null)
    .orderBy('published_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
}

function pinnedIdQuery(kysely: Kysely<Database>, connectorId: string) {
  return kysely.selectFrom('connector_defaults').select('version_id').where('connector_id', '=', connectorId)
}

function pointersOf(row: { latest_id: string | null; pinned_id: string | null }): Pointers {
  return { latestId: row.latest_id ?? null, pinnedDefaultId: row.pinned_id ?? null }
}

const pointersQuery = prepared(({ kysely }, p: { connectorId: string }) =>
  kysely.selectNoFrom([latestIdQuery(kysely, p.connectorId).as('latest_id'), pinnedIdQuery(kysely, p.connectorId).as('pinned_id')]),
)

/** latest and the pinned default of one connector, in one round trip using the indexes. */
export async function findPointers(db: Db, connectorId: string): Promise<Pointers> {
  const [row] = await pointersQuery(db, { connectorId })
  return pointersOf(row!)
}

const connectorPointersQuery = prepared(({ kysely }, p: { organisationId: string; connectorId: string }) =>
  kysely
    .selectFrom('connectors')
    .select([
      'revision',
      latestIdQuery(kysely, p.connectorId).as('latest_id'),
      pinnedIdQuery(kysely, p.connectorId).as('pinned_id'),
      kysely
        .selectFrom('connector_versions')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('connector_id', '=', p.connectorId)
        .as('version_count'),
    ])
    .where('id', '=', p.connectorId)
    .where('organisation_id', '=', p.organisationId),
)

/**
 * The pointers, the number of versions and the revision of a connector of the organisation, with
 * the existence check in the same round trip: undefined when the organisation has no such connector.
 */
export async function findConnectorPointers(
  db: Db,
  organisationId: string,
  connectorId: string,
): Promise<{ pointers: Pointers; versionCount: number; connectorRevision: number } | undefined> {
  const [row] = await connectorPointersQuery(db, { organisationId, connectorId })
  return row && { pointers: pointersOf(row), versionCount: Number(row.version_count ?? 0), connectorRevision: row.revision }
}

type VersionRef = 'name' | 'latest' | 'default'

/** One query per kind of `{version}` segment and scope, each built once (see prepared.ts). */
function versionAndPointersQuery(ref: VersionRef, scoped: boolean) {
  return prepared(({ kysely }, p: { connectorId: string; name: string; organisationId: string }) => {
    const query = kysely
      .selectFrom('connectors as c')
      .leftJoin('connector_versions as v', (join) =>
        join.onRef('v.connector_id', '=', 'c.id').on((eb) => {
          if (ref === 'name') return eb('v.name', '=', p.name)
          const latest = latestIdQuery(kysely, p.connectorId)
          return eb('v.id', '=', ref === 'latest' ? latest : eb.fn.coalesce(pinnedIdQuery(kysely, p.connectorId), latest))
        }),
      )
      .select([latestIdQuery(kysely, p.connectorId).as('latest_id'), pinnedIdQuery(kysely, p.connectorId).as('pinned_id')])
      .select(['v.id', 'v.connector_id', 'v.name', 'v.description', 'v.published_at', 'v.created_at', 'v.updated_at', 'v.revision'])
      .select('c.revision as connector_revision')
      .where('c.id', '=', p.connectorId)
    return scoped ? query.where('c.organisation_id', '=', p.organisationId) : query
  })
}

const VERSION_AND_POINTERS = {
  name: { scoped: versionAndPointersQuery('name', true), any: versionAndPointersQuery('name', false) },
  latest: { scoped: versionAndPointersQuery('latest', true), any: versionAndPointersQuery('latest', false) },
  default: { scoped: versionAndPointersQuery('default', true), any: versionAndPointersQuery('default', false) },
}

/**
 * Resolves a `{version}` path segment (a name, or the alias `latest` / `default` in any case)
 * together with the connector's pointers, in one query. With `organisationId` the connector
 * must also be that organisation's. Undefined when there is no such connector; `version` is
 * undefined when the segment resolves to no version.
 */
export async function findVersionAndPointers(
  db: Db,
  connectorId: string,
  ref: string,
  organisationId?: string,
): Promise<{ version: VersionRecord | undefined; pointers: Pointers; connectorRevision: number } | undefined> {
  const queries = VERSION_AND_POINTERS[aliasOf(ref) ?? 'name']
  const [row] = await (organisationId === undefined ? queries.any : queries.scoped)(db, { connectorId, name: ref, organisationId: organisationId ?? '' })
  if (!row) return undefined
  const version =
    row.id === null
      ? undefined
      : {
          id: row.id,
          connectorId: row.connector_id!,
          name: row.name!,
          description: row.description,
          publishedAt: row.published_at,
          createdAt: row.created_at!,
          updatedAt: row.updated_at!,
          revision: Number(row.revision),
        }
  return { version, pointers: pointersOf(row), connectorRevision: Number(row.connector_revision) }
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

/** Resolves a `{version}` path segment: a name, or the alias `latest` / `default` in any case. */
export async function resolveVersion(
  db: Db,
  connectorId: string,
  ref: string,
): Promise<{ version: VersionRecord; pointers: Pointers } | undefined> {
  const found = await findVersionAndPointers(db, connectorId, ref)
  return found?.version && { version: found.version, pointers: found.pointers }
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

interface VersionChanges {
  name?: string
  description?: string | null
  published?: boolean
}

type ChangeShape = { name: boolean; description: boolean; published: boolean | undefined }

function shapeOf(changes: VersionChanges): ChangeShape {
  return { name: changes.name !== undefined, description: changes.description !== undefined, published: changes.published }
}

/** The prepared query for the shape of `changes` (one per combination of changed fields), built on first use. */
function queryFor<Q>(queries: Map<string, Q>, build: (shape: ChangeShape) => Q, changes: VersionChanges): Q {
  const shape = shapeOf(changes)
  const key = `${shape.name}/${shape.description}/${shape.published}`
  let query = queries.get(key)
  if (!query) queries.set(key, (query = build(shape)))
  return query
}

/** The changed values as the prepared queries' parameters (unused ones are ignored by their shape). */
function changedValues(changes: VersionChanges): { name: string; description: string | null } {
  return { name: changes.name ?? '', description: changes.description ?? null }
}

/** The SET of a version UPDATE: the changed fields, and updatedAt and the revision, which always move. */
function versionSet(db: Db, shape: ChangeShape, p: { name: string; description: string | null }) {
  return (eb: ExpressionBuilder<Database, 'connector_versions'>) => ({
    ...(shape.name ? { name: p.name } : {}),
    ...(shape.description ? { description: p.description } : {}),
    ...(shape.published !== undefined ? { published_at: shape.published ? db.dialect.publishedNow() : null } : {}),
    updated_at: db.dialect.now(),
    revision: eb('revision', '+', 1),
  })
}

/** One prepared UPDATE per combination of changed fields (see prepared.ts and queryFor). */
const updateQueries = new Map<string, ReturnType<typeof updateQuery>>()

function updateQuery(shape: ChangeShape) {
  return prepared((db, p: { id: string; name: string; description: string | null }) =>
    db.kysely.updateTable('connector_versions').set(versionSet(db, shape, p)).where('id', '=', p.id).returning(VERSION_COLUMNS),
  )
}

/** Applies the changes; updatedAt and the revision move even when nothing else does (content changes). */
export async function updateVersion(db: Db, id: string, changes: VersionChanges): Promise<VersionRecord> {
  const [row] = await queryFor(updateQueries, updateQuery, changes)(db, { id, ...changedValues(changes) })
  if (!row) throw new Error(`version ${id} vanished inside its write transaction`)
  return toRecord(row)
}

const updateIfCurrentQueries = new Map<string, ReturnType<typeof updateIfCurrentQuery>>()

/**
 * The connector's compare-and-set and the version's UPDATE as one statement. The
 * version is updated only if the WITH's UPDATE returned the connector, and both use one
 * statement_timestamp(), so the connector's updatedAt equals the version's.
 */
function updateIfCurrentQuery(shape: ChangeShape) {
  return prepared(
    (db, p: { id: string; connectorId: string; expectedRevision: number; name: string; description: string | null }) =>
      db.kysely
        .with('touched', (qc) =>
          qc
            .updateTable('connectors')
            .set((eb) => ({ updated_at: db.dialect.now(), revision: eb('revision', '+', 1) }))
            .where('id', '=', p.connectorId)
            .where('revision', '=', p.expectedRevision)
            .returning('id'),
        )
        .updateTable('connector_versions')
        .set(versionSet(db, shape, p))
        .where('id', '=', p.id)
        .where('connector_id', 'in', (eb) => eb.selectFrom('touched').select('touched.id'))
        .returning(VERSION_COLUMNS),
  )
}

/**
 * Applies the changes to a version of the connector and marks the connector changed (as
 * touchConnector does), only if the connector's revision is still `expectedRevision`: nothing
 * about its versions, pointers or content has changed since it was read. Undefined, with nothing
 * written, when the revision moved or the connector is gone. One statement, so one round trip and
 * atomic without a transaction: only where a WITH may write (Dialect.writesInWith).
 */
export async function updateVersionIfCurrent(
  db: Db,
  target: { connectorId: string; expectedRevision: number; versionId: string },
  changes: VersionChanges,
): Promise<VersionRecord | undefined> {
  if (!db.dialect.writesInWith) throw new Error(`updateVersionIfCurrent needs a WITH that may write; ${db.dialect.name} has none`)
  const [row] = await queryFor(updateIfCurrentQueries, updateIfCurrentQuery, changes)(db, {
    id: target.versionId,
    connectorId: target.connectorId,
    expectedRevision: target.expectedRevision,
    ...changedValues(changes),
  })
  return row && toRecord(row)
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

type VersionPageParams = { connectorId: string; limit: number; updatedAt: string; id: string }

/** One prepared page query per direction: from the start, after a cursor, before a cursor. */
function versionPageQuery(side: Anchor['side'] | undefined) {
  const order = side === 'before' ? reversed(VERSION_ORDER) : VERSION_ORDER
  return prepared(({ kysely }, p: VersionPageParams) => {
    let query = kysely.selectFrom('connector_versions').select(VERSION_COLUMNS).where('connector_id', '=', p.connectorId)
    if (side) query = query.where((eb) => keysetCondition(eb, VERSION_ORDER, [p.updatedAt, p.id], side))
    for (const key of order) query = query.orderBy(key.column as 'id', key.direction)
    return query.limit(p.limit)
  })
}

const VERSION_PAGE = { start: versionPageQuery(undefined), after: versionPageQuery('after'), before: versionPageQuery('before') }

/**
 * ListConnectorVersions: most recently updated first, id as the tiebreak. The total is the
 * `versionCount` the caller read with the connector check (findConnectorPointers).
 */
export function versionsListing(db: Db, connectorId: string, versionCount: number): KeysetSource<VersionRecord> {
  return {
    keys: VERSION_ORDER,
    scope: `versions:${connectorId}`,
    valuesOf: (v) => [v.updatedAt, v.id],
    async fetch(_condition, _order, limit, anchor) {
      const [updatedAt, id] = (anchor?.values ?? ['', '']) as [string, string]
      const rows = await VERSION_PAGE[anchor?.side ?? 'start'](db, { connectorId, limit, updatedAt, id })
      return rows.map(toRecord)
    },
    async count() {
      return versionCount
    },
  }
}
