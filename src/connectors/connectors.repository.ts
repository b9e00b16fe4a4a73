import { hash } from 'node:crypto'
import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely'
import type { Db } from '../db/database.ts'
import { nameStatement } from '../db/pg-statements.ts'
import { prepared } from '../db/prepared.ts'
import { remembered } from '../db/read-memo.ts'
import type { ConnectorsTable } from '../db/schema.ts'
import type { KeysetSource, SortKey } from '../http/pagination.ts'
import type { AuthSchemeConfig } from './auth-scheme.schemas.ts'
import type { Category, ConnectionVariable, Tags } from './connectors.schemas.ts'

export interface ConnectorRecord {
  id: string
  organisationId: string
  name: string
  protocol: 'http'
  baseUrl: string
  isPublic: boolean
  documentationUrl: string | null
  imageUrl: string | null
  authSchemeConfigs: AuthSchemeConfig[]
  connectionVariables: ConnectionVariable[]
  tags: Tags
  categories: Category[]
  createdAt: string
  updatedAt: string
  /** Moves with every change to the connector, its labels, versions or pointers. */
  revision: number
}

/** A connector without its labels (tags, categories). */
export type ConnectorHead = Omit<ConnectorRecord, 'tags' | 'categories'>

/**
 * What a listing reads of each connector: its identity, revision and sort keys. The rest comes
 * from the representation cache, and from the row only on a miss: converting every column of
 * every match to JavaScript (and sorting whole rows) was most of a name-filtered listing's time.
 */
export type ListedConnector = Pick<ConnectorRecord, 'id' | 'name' | 'createdAt' | 'updatedAt' | 'revision'>

export type ConnectorFields = Omit<ConnectorRecord, 'id' | 'organisationId' | 'protocol' | 'createdAt' | 'updatedAt' | 'revision'>

type Row = ConnectorsTable

function columnsOf(fields: ConnectorFields) {
  return {
    name: fields.name,
    base_url: fields.baseUrl,
    is_public: fields.isPublic ? 1 : 0,
    documentation_url: fields.documentationUrl,
    image_url: fields.imageUrl,
    auth_scheme_configs: JSON.stringify(fields.authSchemeConfigs),
    connection_variables: JSON.stringify(fields.connectionVariables),
  }
}

function toHead(row: Selectable<Row>): ConnectorHead {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    name: row.name,
    protocol: 'http',
    baseUrl: row.base_url,
    isPublic: row.is_public === 1,
    documentationUrl: row.documentation_url,
    imageUrl: row.image_url,
    authSchemeConfigs: JSON.parse(row.auth_scheme_configs) as AuthSchemeConfig[],
    connectionVariables: JSON.parse(row.connection_variables) as ConnectionVariable[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revision: row.revision,
  }
}

/** The connectors with their tags and categories, in two queries for any number of them. */
export async function withLabels(db: Db, heads: readonly ConnectorHead[]): Promise<ConnectorRecord[]> {
  if (heads.length === 0) return []
  const ids = heads.map((r) => r.id)
  const [tagRows, categoryRows] = await Promise.all([
    db.kysely.selectFrom('connector_tags').selectAll().where('connector_id', 'in', ids).orderBy('position').execute(),
    db.kysely.selectFrom('connector_categories').selectAll().where('connector_id', 'in', ids).orderBy('category').execute(),
  ])
  const tags = new Map<string, Tags>()
  for (const t of tagRows) {
    const map = tags.get(t.connector_id) ?? {}
    const values = (map[t.tag_key] ??= [])
    if (t.tag_value !== null) values.push(t.tag_value)
    tags.set(t.connector_id, map)
  }
  const categories = new Map<string, Category[]>()
  for (const c of categoryRows) {
    const list = categories.get(c.connector_id) ?? []
    list.push(c.category as Category)
    categories.set(c.connector_id, list)
  }
  return heads.map((head) => ({ ...head, tags: tags.get(head.id) ?? {}, categories: categories.get(head.id) ?? [] }))
}

export async function insertConnector(
  db: Db,
  connector: { id: string; organisationId: string } & ConnectorFields,
): Promise<void> {
  const now = db.dialect.now()
  await db.kysely
    .insertInto('connectors')
    .values({
      id: connector.id,
      organisation_id: connector.organisationId,
      protocol: 'http',
      ...columnsOf(connector),
      created_at: now,
      updated_at: now,
    })
    .execute()
  await replaceTags(db, connector.id, connector.tags)
  await replaceCategories(db, connector.id, connector.categories)
}

/** The connectors that still exist among `ids`, in no particular order. */
export async function findConnectorHeads(db: Db, ids: readonly string[]): Promise<ConnectorHead[]> {
  if (ids.length === 0) return []
  return (await db.kysely.selectFrom('connectors').selectAll().where('id', 'in', ids).execute()).map(toHead)
}

/** Every column, spelled out: a prepared statement must not select `*` (pg-statements.ts); toHead's type keeps it complete. */
const CONNECTOR_COLUMNS = [
  'id',
  'organisation_id',
  'name',
  'protocol',
  'base_url',
  'is_public',
  'documentation_url',
  'image_url',
  'auth_scheme_configs',
  'connection_variables',
  'created_at',
  'updated_at',
  'revision',
] as const

const headQuery = prepared(({ kysely }, p: { organisationId: string; id: string }) =>
  kysely.selectFrom('connectors').select(CONNECTOR_COLUMNS).where('id', '=', p.id).where('organisation_id', '=', p.organisationId),
)

export async function findConnectorHead(db: Db, organisationId: string, id: string): Promise<ConnectorHead | undefined> {
  const [row] = await headQuery(db, { organisationId, id })
  return row && toHead(row)
}

const revisionQuery = prepared(({ kysely }, p: { organisationId: string; id: string }) =>
  kysely.selectFrom('connectors').select('revision').where('id', '=', p.id).where('organisation_id', '=', p.organisationId),
)

/**
 * The connector's revision; undefined when the organisation has no such connector. Every cached
 * read starts here; on SQLite it is remembered until the database may have changed (read-memo.ts).
 */
export function connectorRevision(db: Db, organisationId: string, id: string): Promise<number | undefined> {
  return remembered(db, `revision:${organisationId}:${id}`, async () => {
    const [row] = await revisionQuery(db, { organisationId, id })
    return row?.revision
  })
}

/** Whether the organisation has the connector: one indexed read (remembered on SQLite), no labels. */
export async function connectorExists(db: Db, organisationId: string, id: string): Promise<boolean> {
  return (await connectorRevision(db, organisationId, id)) !== undefined
}

export async function findConnector(db: Db, organisationId: string, id: string): Promise<ConnectorRecord | undefined> {
  const head = await findConnectorHead(db, organisationId, id)
  return head && (await withLabels(db, [head]))[0]
}

/** Current revisions of the connectors that still exist. */
export async function connectorRevisions(db: Db, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map()
  const rows = await db.kysely.selectFrom('connectors').select(['id', 'revision']).where('id', 'in', ids).execute()
  return new Map(rows.map((r) => [r.id, r.revision]))
}

export async function updateConnector(db: Db, id: string, fields: ConnectorFields): Promise<void> {
  await db.kysely
    .updateTable('connectors')
    .set((eb) => ({ ...columnsOf(fields), updated_at: db.dialect.now(), revision: eb('revision', '+', 1) }))
    .where('id', '=', id)
    .execute()
  await replaceTags(db, id, fields.tags)
  await replaceCategories(db, id, fields.categories)
}

const touchQuery = prepared((db, p: { id: string }) =>
  db.kysely
    .updateTable('connectors')
    .set((eb) => ({ updated_at: db.dialect.now(), revision: eb('revision', '+', 1) }))
    .where('id', '=', p.id),
)

/**
 * Marks the connector changed: its updatedAt and revision move with every change to it, its
 * labels, its versions, their pointers or their content. Every such write calls this (or
 * updateConnector, or does the same as updateVersionIfCurrent does) in its transaction; the
 * cached representations and UpdateConnectorVersion's compare-and-set depend on it.
 */
export async function touchConnector(db: Db, id: string): Promise<void> {
  await touchQuery(db, { id })
}

export async function deleteConnector(db: Db, id: string): Promise<void> {
  await db.kysely.deleteFrom('connectors').where('id', '=', id).execute()
}

export async function replaceTags(db: Db, connectorId: string, tags: Tags): Promise<void> {
  await db.kysely.deleteFrom('connector_tags').where('connector_id', '=', connectorId).execute()
  const rows: { connector_id: string; tag_key: string; tag_value: string | null; position: number }[] = []
  for (const [key, values] of Object.entries(tags)) {
    const unique = [...new Set(values)]
    if (unique.length === 0) rows.push({ connector_id: connectorId, tag_key: key, tag_value: null, position: rows.length })
    for (const value of unique) rows.push({ connector_id: connectorId, tag_key: key, tag_value: value, position: rows.length })
  }
  if (rows.length > 0) await db.kysely.insertInto('connector_tags').values(rows).execute()
}

export async function replaceCategories(db: Db, connectorId: string, categories: readonly Category[]): Promise<void> {
  await db.kysely.deleteFrom('connector_categories').where('connector_id', '=', connectorId).execute()
  const unique = [...new Set(categories)]
  if (unique.length > 0) {
    await db.kysely
      .insertInto('connector_categories')
      .values(unique.map((category) => ({ connector_id: connectorId, category })))
      .execute()
  }
}

export interface ConnectorFilter {
  /** Owning organisation, or undefined for the public catalogue. */
  organisationId?: string
  name?: string
  protocol?: string
  tags?: { key: string; value?: string }[]
  categories?: readonly Category[]
}

const COLUMN_OF_FIELD: Record<string, keyof Row> = {
  name: 'name',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  id: 'id',
}

function containsIgnoringCase(column: string, text: string) {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`
}

const LISTED_COLUMNS = [
  'connectors.id',
  'connectors.name',
  'connectors.created_at',
  'connectors.updated_at',
  'connectors.revision',
] as const

/**
 * A page size written into the SQL. SQLite runs a name-filtered listing twice as slowly with a
 * bound LIMIT (measured: 37 → 75 µs for 10 matches), and still 4 µs more on an index walk; the
 * few page sizes in use make few statements.
 */
function literalLimit(limit: number) {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`not a page size: ${limit}`)
  return sql.lit(limit)
}

type ListedRow = Pick<Selectable<Row>, 'id' | 'name' | 'created_at' | 'updated_at' | 'revision'>
/** A row of a name-filtered first page: the listed columns and the number of matches. */
type CountedRow = ListedRow & { total: number | string }

function toListed(row: ListedRow): ListedConnector {
  return { id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at, revision: row.revision }
}

/** ListConnectors / ListPublicConnectors with filters and a sort of (field, direction) pairs. */
export function connectorsListing(
  db: Db,
  filter: ConnectorFilter,
  sort: readonly { field: string; direction: 'asc' | 'desc' }[],
): KeysetSource<ListedConnector> {
  const connectorsTable = () => db.kysely.selectFrom('connectors')
  const keys: SortKey[] = sort.map((s) => ({ column: `connectors.${COLUMN_OF_FIELD[s.field]!}`, direction: s.direction }))
  const columns = sort.map((s) => COLUMN_OF_FIELD[s.field]!)

  const filtered = () => {
    // The name filter narrows the rows the listing starts from, so the database can begin at the
    // name index instead of reading the whole organisation (see Dialect.connectorsNamed).
    let query = filter.name
      ? (db.kysely.selectFrom(db.dialect.connectorsNamed(filter.name, CONNECTOR_COLUMNS).as('connectors')) as unknown as ReturnType<typeof connectorsTable>)
      : connectorsTable()
    query =
      filter.organisationId === undefined
        ? query.where('is_public', '=', 1)
        : query.where('organisation_id', '=', filter.organisationId)
    // Case-insensitive substring match; the user's text is escaped so % and _ match literally.
    if (filter.protocol) query = query.where(containsIgnoringCase('connectors.protocol', filter.protocol))
    for (const tag of filter.tags ?? []) {
      query = query.where((eb) => {
        let sub = eb
          .selectFrom('connector_tags')
          .select('connector_tags.connector_id')
          .whereRef('connector_tags.connector_id', '=', 'connectors.id')
          .where('connector_tags.tag_key', '=', tag.key)
        if (tag.value !== undefined) sub = sub.where('connector_tags.tag_value', '=', tag.value)
        return eb.exists(sub)
      })
    }
    if (filter.categories && filter.categories.length > 0) {
      const categories = filter.categories
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('connector_categories')
            .select('connector_categories.connector_id')
            .whereRef('connector_categories.connector_id', '=', 'connectors.id')
            .where('connector_categories.category', 'in', categories),
        ),
      )
    }
    return query
  }

  const scope = `connectors:${filter.organisationId ?? 'public'}:${JSON.stringify([filter, sort])}`
  // Pages and counts are remembered until the database changes (SQLite, read-memo.ts); a page
  // weighs its rows. The key names everything the query depends on: the listing, the cursor's
  // side and values (the condition and order follow from them) and the page size. It is hashed
  // because filters and cursors can make it kilobytes long.
  const remember = <T>(what: string, read: () => Promise<T>, weigh: (value: T) => number) =>
    remembered(db, `listing:${hash('sha256', `${scope}\n${what}`, 'base64url')}`, read, weigh)
  return {
    keys,
    scope,
    valuesOf: (c) => columns.map((col) => rowValue(c, col)),
    fetch(condition: ((eb: never) => Expression<SqlBool>) | undefined, order, limit, anchor) {
      const at = anchor ? `${anchor.side}:${JSON.stringify(anchor.values)}` : 'first'
      return remember(
        `page:${at}:${limit}`,
        async () => {
          let query = filtered().select(LISTED_COLUMNS)
          if (condition) query = query.where(condition as never)
          for (const key of order) query = query.orderBy(key.column as 'connectors.id', key.direction)
          return (await query.limit(literalLimit(limit)).execute()).map(toListed)
        },
        (rows) => 1 + rows.length,
      )
    },
    // A name-filtered listing sorts every match (no index gives the order), so the first page
    // counts them in the same pass instead of visiting them all again in count().
    ...(filter.name
      ? {
          fetchFirstCounted(limit: number) {
            return remember(
              `counted:${limit}`,
              async () => {
                let rows: CountedRow[]
                if (db.dialect.nameFilteredFirstPage === 'materialized') {
                  rows = await firstPageOfMatches(db, filtered().select(matchColumns(columns)), keys, limit)
                } else {
                  let query = filtered().select([...LISTED_COLUMNS, (eb) => eb.fn.countAll<number | string>().over().as('total')])
                  for (const key of keys) query = query.orderBy(key.column as 'connectors.id', key.direction)
                  rows = await query.limit(literalLimit(limit)).execute()
                }
                return { rows: rows.map(toListed), total: Number(rows[0]?.total ?? 0) }
              },
              (page) => 1 + page.rows.length,
            )
          },
        }
      : {}),
    count() {
      return remember(
        'count',
        async () => {
          const row = await filtered()
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
          return Number(row.n)
        },
        () => 1,
      )
    },
  }
}

/** The columns a listing sorts by, and the id: what the materialised matches keep. */
function matchColumns(columns: readonly (keyof Row)[]) {
  return [...new Set<keyof Row>([...columns, 'id'])].map((c) => `connectors.${c}` as 'connectors.id')
}

/** Listing statements sent as named ones (Dialect.nameFilteredFirstPage), at most this many texts. */
const namedListings = new Set<string>()
const MAX_NAMED_LISTINGS = 64

/**
 * The first page of a name-filtered listing and the number of matches, from the matches' sort
 * keys materialised once (see Dialect.nameFilteredFirstPage). The statement's text depends only
 * on the filters' shape, the sort and the page size, so the first few seen are named.
 */
async function firstPageOfMatches(db: Db, matches: { compile(): unknown }, keys: readonly SortKey[], limit: number) {
  // The CTEs' names are not in the schema's types.
  const k = db.kysely as unknown as Kysely<Record<string, Record<string, unknown>>>
  let page = k.selectFrom('matches').select('matches.id')
  for (const key of keys) page = page.orderBy(key.column.replace(/^connectors\./, 'matches.'), key.direction)
  let query = k
    .with((cte) => cte('matches').materialized(), () => matches as never)
    .with('page', () => page.limit(literalLimit(limit)))
    .selectFrom('connectors')
    .innerJoin('page', 'page.id', 'connectors.id')
    .select([...LISTED_COLUMNS, (eb) => eb.selectFrom('matches').select(eb.fn.countAll().as('n')).as('total')])
  for (const key of keys) query = query.orderBy(key.column, key.direction)
  const compiled = query.compile()
  if (namedListings.has(compiled.sql) || (namedListings.size < MAX_NAMED_LISTINGS && nameStatement(compiled.sql))) {
    namedListings.add(compiled.sql)
  }
  const { rows } = await k.executeQuery(compiled)
  return rows as unknown as CountedRow[]
}

function rowValue(c: ListedConnector, column: keyof Row): string {
  switch (column) {
    case 'name':
      return c.name
    case 'created_at':
      return c.createdAt
    case 'updated_at':
      return c.updatedAt
    default:
      return c.id
  }
}
