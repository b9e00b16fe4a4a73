import { authorize } from '../auth/access.ts'
import type { Principal } from '../auth/principal.ts'
import { writeTransaction, type Db } from '../db/database.ts'
import { etagOf, assertIfMatch } from '../http/etag.ts'
import { ApiError, type ErrorField } from '../http/errors.ts'
import { paginate, type PageRequest } from '../http/pagination.ts'
import type { Representation, ComposedRepresentation } from '../http/representation.ts'
import { newId } from '../ids.ts'
import type { Registry } from '../registry.ts'
import { assertConnectorUnsubscribed } from '../subscriptions/subscriptions.guards.ts'
import { latestOf } from '../versions/version-rules.ts'
import { toVersionDto } from '../versions/versions.dto.ts'
import { listVersionsOf } from '../versions/versions.repository.ts'
import { storableAuthSchemeConfig } from './auth-scheme.schemas.ts'
import { connectorPage, connectorRepresentation } from './connector-json.ts'
import {
  connectorRevision,
  connectorRevisions,
  connectorsListing,
  deleteConnector,
  findConnector,
  findConnectorHeads,
  insertConnector,
  replaceCategories,
  replaceTags,
  touchConnector,
  updateConnector,
  withLabels,
  type ConnectorFilter,
  type ConnectorRecord,
} from './connectors.repository.ts'
import {
  SORT_FIELDS,
  type Category,
  type ConnectorListQuery,
  type HttpConnector,
  type HttpConnectorCreate,
  type HttpConnectorUpdate,
  type Tags,
} from './connectors.schemas.ts'

export interface ConnectorTarget {
  organisationId: string
  connectorId: string
}

/** Connector representations with their versions, for one or many connectors in two queries. */
async function toConnectorDtos(db: Db, records: ConnectorRecord[], publishedOnly = false): Promise<HttpConnector[]> {
  const { versions, pinned } = await listVersionsOf(db, records.map((r) => r.id))
  return records.map((record) => {
    const all = versions.filter((v) => v.connectorId === record.id)
    // The public catalogue shows what other organisations may use: published versions only.
    const own = publishedOnly ? all.filter((v) => v.publishedAt !== null) : all
    const pointers = { latestId: latestOf(own)?.id ?? null, pinnedDefaultId: pinned.get(record.id) ?? null }
    return {
      id: record.id,
      organisationId: record.organisationId,
      name: record.name,
      public: record.isPublic,
      protocol: record.protocol,
      baseUrl: record.baseUrl,
      ...(record.documentationUrl !== null ? { documentationURL: record.documentationUrl } : {}),
      ...(record.imageUrl !== null ? { imageURL: record.imageUrl } : {}),
      tags: record.tags,
      categories: record.categories,
      authSchemeConfigs: record.authSchemeConfigs,
      connectionVariables: record.connectionVariables,
      connections: [],
      versions: own.map((v) => toVersionDto(v, pointers)),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    }
  })
}

async function connectorDto(db: Db, record: ConnectorRecord): Promise<HttpConnector> {
  return (await toConnectorDtos(db, [record]))[0]!
}

export function connectorEtag(dto: HttpConnector): string {
  return etagOf(dto)
}

async function requireConnector(db: Db, target: ConnectorTarget): Promise<ConnectorRecord> {
  const record = await findConnector(db, target.organisationId, target.connectorId)
  if (!record) throw new ApiError('connector_not_found')
  return record
}

/** Runs a change on a locked, existing connector after checking If-Match against its current ETag. */
function changeConnector<T>(
  registry: Registry,
  target: ConnectorTarget,
  ifMatch: string | undefined,
  work: (tx: Db, current: ConnectorRecord) => Promise<T>,
): Promise<T> {
  return writeTransaction(registry.db, async (tx) => {
    if (!(await tx.dialect.lockConnector(tx, target.organisationId, target.connectorId))) {
      throw new ApiError('connector_not_found')
    }
    const current = await requireConnector(tx, target)
    if (ifMatch !== undefined) assertIfMatch(ifMatch, connectorEtag(await connectorDto(tx, current)))
    return work(tx, current)
  })
}

function checkAuthSchemeConfigIds(ids: readonly string[]): void {
  const seen = new Set<string>()
  const fields: ErrorField[] = []
  ids.forEach((id, i) => {
    if (seen.has(id)) fields.push({ field: `authSchemeConfigs[${i}].id`, message: 'must be unique within the array' })
    seen.add(id)
  })
  if (fields.length > 0) throw new ApiError('validation_failed', { fields })
}

export async function createHttpConnector(
  registry: Registry,
  principal: Principal,
  organisationId: string,
  body: HttpConnectorCreate,
): Promise<HttpConnector> {
  authorize(principal, organisationId, 'write')
  checkAuthSchemeConfigIds(body.authSchemeConfigs.map((c) => c.id))
  const id = newId()
  return writeTransaction(registry.db, async (tx) => {
    await insertConnector(tx, {
      id,
      organisationId,
      name: body.name,
      baseUrl: body.baseUrl,
      isPublic: body.public ?? false,
      documentationUrl: body.documentationURL ?? null,
      imageUrl: body.imageURL ?? null,
      authSchemeConfigs: body.authSchemeConfigs.map(storableAuthSchemeConfig),
      connectionVariables: body.connectionVariables ?? [],
      tags: body.tags ?? {},
      categories: [],
    })
    return connectorDto(tx, (await findConnector(tx, organisationId, id))!)
  })
}

/** Only http connectors exist here; the reference's other protocols are a clear 400. */
export async function createConnectorOfProtocol(
  _registry: Registry,
  principal: Principal,
  organisationId: string,
  protocol: string,
): Promise<never> {
  authorize(principal, organisationId, 'write')
  throw new ApiError('unsupported_protocol', {
    message: `Protocol "${protocol}" is not supported; only http connectors can be created.`,
  })
}

type View = 'own' | 'public'

const cacheKey = (view: View, id: string) => `${view === 'own' ? 'connector' : 'public-connector'}:${id}`

/**
 * The connectors as sent, from the cache where an entry has the revision just read (listed).
 * Missing ones are built from their rows read now (labels and versions in two queries for all of
 * them) and cached only if their revision did not move while they were read: the rows and their
 * versions come from separate statements, and a representation mixing two revisions must never
 * be served again. A connector changed since it was listed shows its current state; one deleted
 * since, or no longer public in a public view, is left out (undefined).
 */
async function representationsOf(
  registry: Registry,
  listed: readonly Pick<ConnectorRecord, 'id' | 'revision'>[],
  view: View,
): Promise<(Representation | undefined)[]> {
  const cache = registry.representations
  const found = listed.map((c) => cache.get(cacheKey(view, c.id), c.revision))
  const missing = listed.filter((_, i) => found[i] === undefined).map((c) => c.id)
  if (missing.length === 0) return found
  const heads = (await findConnectorHeads(registry.db, missing)).filter((head) => view === 'own' || head.isPublic)
  const dtos = await toConnectorDtos(registry.db, await withLabels(registry.db, heads), view === 'public')
  const revisionsAfter = await connectorRevisions(registry.db, heads.map((h) => h.id))
  const built = new Map<string, Representation>()
  heads.forEach((head, i) => {
    const representation = connectorRepresentation(dtos[i]!)
    built.set(head.id, representation)
    if (revisionsAfter.get(head.id) === head.revision) cache.set(cacheKey(view, head.id), head.revision, representation)
  })
  return listed.map((c, i) => found[i] ?? built.get(c.id))
}

export async function getConnector(registry: Registry, principal: Principal, target: ConnectorTarget): Promise<Representation> {
  authorize(principal, target.organisationId, 'read')
  // A hit reads one indexed column; only a miss reads the connector row.
  const revision = await connectorRevision(registry.db, target.organisationId, target.connectorId)
  if (revision === undefined) throw new ApiError('connector_not_found')
  const [representation] = await representationsOf(registry, [{ id: target.connectorId, revision }], 'own')
  if (!representation) throw new ApiError('connector_not_found')
  return representation
}

export async function updateHttpConnector(
  registry: Registry,
  principal: Principal,
  target: ConnectorTarget,
  body: HttpConnectorUpdate,
  ifMatch: string | undefined,
): Promise<HttpConnector> {
  authorize(principal, target.organisationId, 'write')
  return changeConnector(registry, target, ifMatch, async (tx, current) => {
    const readOnly: ErrorField[] = []
    if (body.id !== current.id) readOnly.push({ field: 'id', message: 'is read-only' })
    if (body.organisationId !== current.organisationId) readOnly.push({ field: 'organisationId', message: 'is read-only' })
    if (body.protocol !== current.protocol) readOnly.push({ field: 'protocol', message: 'is read-only' })
    if (readOnly.length > 0) throw new ApiError('read_only_field', { fields: readOnly })

    let authSchemeConfigs = current.authSchemeConfigs
    if (body.authSchemeConfigIds !== undefined) {
      const byId = new Map(current.authSchemeConfigs.map((c) => [c.id, c]))
      const reordered = body.authSchemeConfigIds.map((id) => byId.get(id))
      const isPermutation =
        body.authSchemeConfigIds.length === byId.size &&
        new Set(body.authSchemeConfigIds).size === byId.size &&
        reordered.every((c) => c !== undefined)
      if (!isPermutation) {
        throw new ApiError('validation_failed', {
          message: 'authSchemeConfigIds must list every existing auth scheme config id exactly once.',
          fields: [{ field: 'authSchemeConfigIds', message: 'is not a reordering of the existing ids' }],
        })
      }
      authSchemeConfigs = reordered as typeof authSchemeConfigs
    }

    // PUT replaces: omitted optional fields are cleared, except the two the reference says are
    // left alone when omitted (authSchemeConfigIds, connectionVariables).
    await updateConnector(tx, current.id, {
      name: body.name,
      baseUrl: body.baseUrl,
      isPublic: body.public ?? false,
      documentationUrl: body.documentationURL ?? null,
      imageUrl: body.imageURL ?? null,
      authSchemeConfigs,
      connectionVariables: body.connectionVariables ?? current.connectionVariables,
      tags: body.tags ?? {},
      categories: current.categories,
    })
    return connectorDto(tx, (await requireConnector(tx, target))!)
  })
}

export async function deleteHttpConnector(
  registry: Registry,
  principal: Principal,
  target: ConnectorTarget,
  options: { force: boolean; ifMatch: string | undefined },
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await changeConnector(registry, target, options.ifMatch, async (tx, current) => {
    // Subscribers' connector is not pulled from under them unless the caller insists.
    if (!options.force) await assertConnectorUnsubscribed(tx, current.id)
    await deleteConnector(tx, current.id)
  })
}

export async function setConnectorTags(
  registry: Registry,
  principal: Principal,
  target: ConnectorTarget,
  tags: Tags,
  ifMatch: string | undefined,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await changeConnector(registry, target, ifMatch, async (tx, current) => {
    await replaceTags(tx, current.id, tags)
    await touchConnector(tx, current.id)
  })
}

export async function setConnectorCategories(
  registry: Registry,
  principal: Principal,
  target: ConnectorTarget,
  categories: Category[],
  ifMatch: string | undefined,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await changeConnector(registry, target, ifMatch, async (tx, current) => {
    await replaceCategories(tx, current.id, categories)
    await touchConnector(tx, current.id)
  })
}

/** `name:asc,id:desc` -> pairs, always ending with id so the order is total. */
export function parseSort(sort: string | undefined): { field: string; direction: 'asc' | 'desc' }[] {
  if (sort === undefined) return [{ field: 'updatedAt', direction: 'desc' }, { field: 'id', direction: 'desc' }]
  const pairs = sort.split(',').map((pair) => {
    const [field = '', direction = ''] = pair.split(':')
    if (!(SORT_FIELDS as readonly string[]).includes(field) || (direction !== 'asc' && direction !== 'desc')) {
      throw new ApiError('validation_failed', {
        message: `Invalid sort "${pair}": use field:direction with fields ${SORT_FIELDS.join(', ')} and directions asc, desc.`,
        fields: [{ field: 'sort', message: 'is invalid' }],
      })
    }
    return { field, direction: direction as 'asc' | 'desc' }
  })
  const fields = pairs.map((p) => p.field)
  if (new Set(fields).size !== fields.length) {
    throw new ApiError('validation_failed', { message: 'A sort field may appear once.', fields: [{ field: 'sort', message: 'repeats a field' }] })
  }
  const idIndex = fields.indexOf('id')
  if (idIndex === -1) return [...pairs, { field: 'id', direction: pairs[pairs.length - 1]!.direction }]
  return pairs.slice(0, idIndex + 1)
}

/** `key:value,key` -> filters; every one must match. */
export function parseTagFilter(tags: string | undefined): { key: string; value?: string }[] {
  if (tags === undefined || tags === '') return []
  return tags.split(',').map((part) => {
    const separator = part.indexOf(':')
    const key = separator === -1 ? part : part.slice(0, separator)
    const value = separator === -1 ? undefined : part.slice(separator + 1)
    if (key === '') {
      throw new ApiError('validation_failed', {
        message: `Invalid tag filter "${part}": each tag needs a key.`,
        fields: [{ field: 'tags', message: 'has a tag without a key' }],
      })
    }
    return value === undefined || value === '' ? { key } : { key, value }
  })
}

function filterFrom(query: ConnectorListQuery, organisationId: string | undefined): ConnectorFilter {
  return {
    ...(organisationId !== undefined ? { organisationId } : {}),
    ...(query.name ? { name: query.name } : {}),
    ...(query.protocol ? { protocol: query.protocol } : {}),
    tags: parseTagFilter(query.tags),
    ...(query.categories ? { categories: [...new Set(query.categories)].sort() } : {}),
  }
}

async function listWith(
  registry: Registry,
  filter: ConnectorFilter,
  query: ConnectorListQuery,
  page: PageRequest,
): Promise<ComposedRepresentation> {
  const { rows, pageInfo } = await paginate(registry.cursors, connectorsListing(registry.db, filter, parseSort(query.sort)), page)
  const representations = await representationsOf(registry, rows, filter.organisationId === undefined ? 'public' : 'own')
  return connectorPage(pageInfo, representations.filter((r) => r !== undefined))
}

export async function listConnectors(
  registry: Registry,
  principal: Principal,
  organisationId: string,
  query: ConnectorListQuery,
): Promise<ComposedRepresentation> {
  authorize(principal, organisationId, 'read')
  return listWith(registry, filterFrom(query, organisationId), query, query)
}

/** Public connectors of every organisation: readable by any authenticated principal. */
export async function listPublicConnectors(
  registry: Registry,
  _principal: Principal,
  query: ConnectorListQuery,
): Promise<ComposedRepresentation> {
  return listWith(registry, filterFrom(query, undefined), query, query)
}
