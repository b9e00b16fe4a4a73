import { sql, type SqlBool } from 'kysely'
import type { Db } from '../db/database.ts'
import type { ConnectorDefinitionsTable, ConnectorOperationsTable, ContentReferencesTable } from '../db/schema.ts'
import type { KeysetSource, SortKey } from '../http/pagination.ts'
import { newId } from '../ids.ts'
import type {
  DefinitionRecord,
  LinkRecord,
  OperationBody,
  OperationKind,
  OperationRecord,
  SourceKind,
  VersionContent,
} from './content-rules.ts'

const TABLE = { action: 'connector_actions', trigger: 'connector_triggers' } as const
const SOURCE_COLUMN = { action: 'action_id', trigger: 'trigger_id', definition: 'source_definition_id' } as const

function toDefinition(row: ConnectorDefinitionsTable): DefinitionRecord {
  return {
    id: row.id,
    versionId: row.version_id,
    name: row.name,
    description: row.description,
    accept: JSON.parse(row.accept) as string[],
    contentType: row.schema_content_type,
    content: row.schema_content,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

function toOperation(kind: OperationKind, row: ConnectorOperationsTable): OperationRecord {
  return {
    id: row.id,
    versionId: row.version_id,
    kind,
    name: row.name,
    body: JSON.parse(row.body) as OperationBody,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

function toLink(row: ContentReferencesTable): LinkRecord {
  const sourceKind: SourceKind = row.action_id !== null ? 'action' : row.trigger_id !== null ? 'trigger' : 'definition'
  return {
    id: row.id,
    sourceKind,
    sourceId: (row.action_id ?? row.trigger_id ?? row.source_definition_id)!,
    slot: row.slot,
    position: row.position,
    definitionId: row.definition_id,
    targetId: row.target_id,
    targetName: row.target_name,
  }
}

/** Everything one version holds, for representations and validation. */
export async function loadContent(db: Db, versionId: string): Promise<VersionContent> {
  const [definitions, actions, triggers, links] = await Promise.all([
    db.kysely.selectFrom('connector_definitions').selectAll().where('version_id', '=', versionId).orderBy('id').execute(),
    db.kysely.selectFrom('connector_actions').selectAll().where('version_id', '=', versionId).orderBy('id').execute(),
    db.kysely.selectFrom('connector_triggers').selectAll().where('version_id', '=', versionId).orderBy('id').execute(),
    db.kysely.selectFrom('content_references').selectAll().where('version_id', '=', versionId).orderBy('id').execute(),
  ])
  return {
    definitions: definitions.map(toDefinition),
    actions: actions.map((r) => toOperation('action', r)),
    triggers: triggers.map((r) => toOperation('trigger', r)),
    links: links.map(toLink),
  }
}

// ---------------------------------------------------------------------------------------------
// Definitions

export interface DefinitionFields {
  name: string
  description: string | null
  accept: string[]
  contentType: string
  content: string
}

export async function insertDefinition(db: Db, versionId: string, fields: DefinitionFields, id = newId()): Promise<DefinitionRecord> {
  const now = db.dialect.now()
  const row = await db.kysely
    .insertInto('connector_definitions')
    .values({
      id,
      version_id: versionId,
      name: fields.name,
      description: fields.description,
      accept: JSON.stringify(fields.accept),
      schema_content_type: fields.contentType,
      schema_content: fields.content,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toDefinition(row)
}

export async function updateDefinition(db: Db, id: string, fields: DefinitionFields): Promise<void> {
  await db.kysely
    .updateTable('connector_definitions')
    .set({
      name: fields.name,
      description: fields.description,
      accept: JSON.stringify(fields.accept),
      schema_content_type: fields.contentType,
      schema_content: fields.content,
      updated_at: db.dialect.now(),
    })
    .where('id', '=', id)
    .execute()
  // Links keep pointing at the definition by id; the name they show follows it.
  await db.kysely.updateTable('content_references').set({ target_name: fields.name }).where('definition_id', '=', id).execute()
}

export async function findDefinition(db: Db, versionId: string, name: string): Promise<DefinitionRecord | undefined> {
  const row = await db.kysely
    .selectFrom('connector_definitions')
    .selectAll()
    .where('version_id', '=', versionId)
    .where('name', '=', name)
    .executeTakeFirst()
  return row && toDefinition(row)
}

/** Deleting leaves links to the definitions dangling (definition_id set null), never removes them. */
export async function deleteDefinitions(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await db.kysely.deleteFrom('connector_definitions').where('id', 'in', ids).execute()
}

/** Dangling links that named `name` point at the definition again (it was re-created or renamed to it). */
export async function relinkByName(db: Db, versionId: string, definition: { id: string; name: string }): Promise<void> {
  await db.kysely
    .updateTable('content_references')
    .set({ definition_id: definition.id, target_id: definition.id })
    .where('version_id', '=', versionId)
    .where('definition_id', 'is', null)
    .where('target_name', '=', definition.name)
    .execute()
}

// ---------------------------------------------------------------------------------------------
// Actions and triggers

export async function insertOperation(
  db: Db,
  kind: OperationKind,
  versionId: string,
  fields: { name: string; body: OperationBody },
  id = newId(),
): Promise<OperationRecord> {
  const now = db.dialect.now()
  const row = await db.kysely
    .insertInto(TABLE[kind])
    .values({ id, version_id: versionId, name: fields.name, type: 'http', body: JSON.stringify(fields.body), created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toOperation(kind, row)
}

export async function updateOperation(db: Db, kind: OperationKind, id: string, fields: { name: string; body: OperationBody }): Promise<void> {
  await db.kysely
    .updateTable(TABLE[kind])
    .set({ name: fields.name, body: JSON.stringify(fields.body), updated_at: db.dialect.now() })
    .where('id', '=', id)
    .execute()
}

export async function findOperation(db: Db, kind: OperationKind, versionId: string, name: string): Promise<OperationRecord | undefined> {
  const row = await db.kysely
    .selectFrom(TABLE[kind])
    .selectAll()
    .where('version_id', '=', versionId)
    .where('name', '=', name)
    .executeTakeFirst()
  return row && toOperation(kind, row)
}

export async function deleteOperation(db: Db, kind: OperationKind, id: string): Promise<void> {
  await db.kysely.deleteFrom(TABLE[kind]).where('id', '=', id).execute()
}

// ---------------------------------------------------------------------------------------------
// Links

export interface NewLink {
  id?: string
  slot: string
  position: number
  definitionId: string | null
  targetId: string
  targetName: string
}

/** Replaces every link of one source (an action, trigger or definition). */
export async function replaceLinks(db: Db, versionId: string, source: { kind: SourceKind; id: string }, links: readonly NewLink[]): Promise<void> {
  const column = SOURCE_COLUMN[source.kind]
  await db.kysely.deleteFrom('content_references').where(column, '=', source.id).execute()
  if (links.length === 0) return
  await db.kysely
    .insertInto('content_references')
    .values(
      links.map((link) => ({
        id: link.id ?? newId(),
        version_id: versionId,
        action_id: source.kind === 'action' ? source.id : null,
        trigger_id: source.kind === 'trigger' ? source.id : null,
        source_definition_id: source.kind === 'definition' ? source.id : null,
        slot: link.slot,
        position: link.position,
        definition_id: link.definitionId,
        target_id: link.targetId,
        target_name: link.targetName,
      })),
    )
    .execute()
}

/**
 * Copies a version's content into another (CreateConnectorVersion with fromVersion): new ids
 * for every entity and link, the same names, and references re-pointed at the copies.
 */
export async function copyContent(db: Db, fromVersionId: string, toVersionId: string): Promise<void> {
  const source = await loadContent(db, fromVersionId)
  const ids = new Map<string, string>()
  for (const d of source.definitions) {
    ids.set(d.id, newId())
    await insertDefinition(db, toVersionId, d, ids.get(d.id))
  }
  for (const o of [...source.actions, ...source.triggers]) {
    ids.set(o.id, newId())
    await insertOperation(db, o.kind, toVersionId, o, ids.get(o.id))
  }
  const links = source.links.map((l) => {
    const definitionId = l.definitionId === null ? null : (ids.get(l.definitionId) ?? null)
    return {
      id: newId(),
      version_id: toVersionId,
      action_id: l.sourceKind === 'action' ? ids.get(l.sourceId)! : null,
      trigger_id: l.sourceKind === 'trigger' ? ids.get(l.sourceId)! : null,
      source_definition_id: l.sourceKind === 'definition' ? ids.get(l.sourceId)! : null,
      slot: l.slot,
      position: l.position,
      definition_id: definitionId,
      target_id: definitionId ?? l.targetId,
      target_name: l.targetName,
    }
  })
  // Bounded batches keep the statement under SQLite's and PostgreSQL's parameter limits.
  for (let i = 0; i < links.length; i += 200) {
    await db.kysely.insertInto('content_references').values(links.slice(i, i + 200)).execute()
  }
}

// ---------------------------------------------------------------------------------------------
// Listings: creation order (ids are monotonic ULIDs), filtered by a case-insensitive name substring.

const ORDER: SortKey[] = [{ column: 'id', direction: 'asc' }]

function containsIgnoringCase(text: string) {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  return sql<SqlBool>`lower(${sql.ref('name')}) like ${pattern} escape '\\'`
}

function listing<Row extends { id: string; version_id: string; name: string }, R>(
  db: Db,
  table: 'connector_definitions' | 'connector_actions' | 'connector_triggers',
  versionId: string,
  name: string | undefined,
  map: (row: Row) => R,
): KeysetSource<R & { id: string }> {
  const filtered = () => {
    let query = db.kysely.selectFrom(table as 'connector_actions').where('version_id', '=', versionId)
    if (name) query = query.where(containsIgnoringCase(name))
    return query
  }
  return {
    keys: ORDER,
    scope: `${table}:${versionId}:${JSON.stringify(name ?? null)}`,
    valuesOf: (r) => [r.id],
    async fetch(condition, order, limit) {
      let query = filtered().selectAll()
      if (condition) query = query.where(condition)
      for (const key of order) query = query.orderBy(key.column as 'id', key.direction)
      return ((await query.limit(limit).execute()) as unknown as Row[]).map((row) => map(row) as R & { id: string })
    },
    async count() {
      const row = await filtered()
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}

export function operationsListing(db: Db, kind: OperationKind, versionId: string, name?: string): KeysetSource<OperationRecord> {
  return listing<ConnectorOperationsTable, OperationRecord>(db, TABLE[kind], versionId, name, (row) => toOperation(kind, row))
}

export function definitionsListing(db: Db, versionId: string, name?: string): KeysetSource<DefinitionRecord> {
  return listing<ConnectorDefinitionsTable, DefinitionRecord>(db, 'connector_definitions', versionId, name, toDefinition)
}
