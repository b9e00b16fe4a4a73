import { authorize } from '../auth/access.ts'
import type { Principal } from '../auth/principal.ts'
import { connectorExists, touchConnector } from '../connectors/connectors.repository.ts'
import { writeTransaction, type Db } from '../db/database.ts'
import { ApiError, type ErrorField } from '../http/errors.ts'
import { paginate, type PageInfo, type PageRequest } from '../http/pagination.ts'
import { newId, ULID_PATTERN } from '../ids.ts'
import type { Registry } from '../registry.ts'
import { resolveVersion, updateVersion, type VersionRecord } from '../versions/versions.repository.ts'
import {
  ContentIndex,
  rawSchemaDocument,
  REQUEST_SLOT,
  referencedBy,
  renameSchemaReferences,
  responseSlot,
  schemaFileKey,
  schemaReferences,
  toDefinitionDto,
  toOperationDto,
  type DefinitionRecord,
  type OperationBody,
  type OperationKind,
  type OperationRecord,
  type UrlContext,
} from './content-rules.ts'
import {
  definitionsListing,
  deleteDefinitions as deleteDefinitionRows,
  deleteOperation as deleteOperationRow,
  findDefinition,
  findOperation,
  insertDefinition,
  insertOperation,
  loadContent,
  operationsListing,
  relinkByName,
  replaceLinks,
  updateDefinition as updateDefinitionRow,
  updateOperation as updateOperationRow,
  type NewLink,
} from './content.repository.ts'
import type {
  ContentListQuery,
  DefinitionDto,
  DefinitionRef,
  DefinitionsCreate,
  DefinitionsDelete,
  DefinitionUpdate,
  OperationDto,
  OperationInput,
} from './content.schemas.ts'

/** A `{version}` of a connector, plus the server's base URL for definition urls. */
export interface ContentTarget {
  organisationId: string
  connectorId: string
  version: string
  baseUrl: string
}

const ULID = new RegExp(ULID_PATTERN)
const NOT_FOUND = { action: 'action_not_found', trigger: 'trigger_not_found' } as const
const CONFLICT = { action: 'action_name_conflict', trigger: 'trigger_name_conflict' } as const

function urlContext(target: ContentTarget, version: VersionRecord): UrlContext {
  return { baseUrl: target.baseUrl, organisationId: target.organisationId, connectorId: target.connectorId, versionName: version.name }
}

function versionNotFound(ref: string): ApiError {
  return new ApiError('version_not_found', { message: `Connector version "${ref}" does not exist or the alias resolves to no version.` })
}

/** Resolves the target version for a read (the caller has authorised). */
async function readVersion(db: Db, target: ContentTarget): Promise<{ version: VersionRecord; ctx: UrlContext }> {
  if (!(await connectorExists(db, target.organisationId, target.connectorId))) throw new ApiError('connector_not_found')
  const found = await resolveVersion(db, target.connectorId, target.version)
  if (!found) throw versionNotFound(target.version)
  return { version: found.version, ctx: urlContext(target, found.version) }
}

/**
 * Runs a change to a draft version's content: one write transaction holding the connector's
 * lock; 409 `version_published` for published versions; the version's and the connector's
 * updatedAt move with every change.
 */
function changeContent<T>(
  registry: Registry,
  target: ContentTarget,
  work: (tx: Db, version: VersionRecord, ctx: UrlContext) => Promise<T>,
): Promise<T> {
  return writeTransaction(registry.db, async (tx) => {
    if (!(await tx.dialect.lockConnector(tx, target.organisationId, target.connectorId))) throw new ApiError('connector_not_found')
    const found = await resolveVersion(tx, target.connectorId, target.version)
    if (!found) throw versionNotFound(target.version)
    const { version } = found
    if (version.publishedAt !== null) {
      throw new ApiError('version_published', {
        message: `Version "${version.name}" is published and its content is immutable; unpublish it or create a new version from it.`,
      })
    }
    const result = await work(tx, version, urlContext(target, version))
    await updateVersion(tx, version.id, {})
    await touchConnector(tx, target.connectorId)
    return result
  })
}

function rethrowUnique(db: Db, error: unknown, conflict: () => ApiError): never {
  if (db.dialect.isUniqueViolation(error)) throw conflict()
  throw error
}

// ---------------------------------------------------------------------------------------------
// Actions and triggers

function operationConflict(kind: OperationKind, name: string): ApiError {
  return new ApiError(CONFLICT[kind], {
    message: `${kind === 'action' ? 'Action' : 'Trigger'} "${name}" already exists in this version.`,
    fields: [{ field: 'name', message: 'is already used' }],
  })
}

function operationNotFound(kind: OperationKind, name: string): ApiError {
  return new ApiError(NOT_FOUND[kind], { message: `${kind === 'action' ? 'Action' : 'Trigger'} "${name}" does not exist in this version.` })
}

/**
 * Turns a request body into the stored body and its links. References resolve by id, else by
 * name, within the version; an unknown definition is 400, except that an update may keep a
 * link that already dangles (the client sent back what it read).
 */
function planOperation(
  kind: OperationKind,
  input: OperationInput,
  index: ContentIndex,
  existing: OperationRecord | undefined,
): { body: OperationBody; links: NewLink[] } {
  if (input.type !== 'http') {
    throw new ApiError('unsupported_type', {
      message: `${kind === 'action' ? 'Action' : 'Trigger'} type "${input.type}" is not supported; only "http" is.`,
      fields: [{ field: 'type', message: 'must be "http"' }],
    })
  }
  const ownLinks = existing ? index.linksOf(existing.id) : []
  const ownLinkIds = new Set(ownLinks.map((l) => l.id))
  const dangling = ownLinks.filter((l) => l.definitionId === null || !index.definitionById.has(l.definitionId))
  const usedLinkIds = new Set<string>()
  const problems: ErrorField[] = []
  const links: NewLink[] = []

  const resolve = (ref: DefinitionRef, field: string): Omit<NewLink, 'slot' | 'position'> | undefined => {
    if (ref.id === undefined && ref.name === undefined) {
      problems.push({ field, message: 'needs the id or the name of a definition' })
      return undefined
    }
    const found =
      (ref.id !== undefined ? index.definitionById.get(ref.id) : undefined) ??
      (ref.name !== undefined ? index.definitionByName.get(ref.name) : undefined)
    if (found) return { definitionId: found.id, targetId: found.id, targetName: found.name }
    const kept = dangling.find((l) => (ref.id !== undefined && l.targetId === ref.id) || (ref.name !== undefined && l.targetName === ref.name))
    if (kept) return { definitionId: null, targetId: kept.targetId, targetName: kept.targetName }
    problems.push({ field, message: `no definition ${ref.id !== undefined ? `with id "${ref.id}"` : `named "${ref.name}"`} exists in this version` })
    return undefined
  }

  const addLinks = (items: { id?: string; definition: DefinitionRef }[], slot: string, fieldPrefix: string) => {
    items.forEach((item, position) => {
      const target = resolve(item.definition, `${fieldPrefix}[${position}].definition`)
      if (!target) return
      const keep = item.id !== undefined && ownLinkIds.has(item.id) && !usedLinkIds.has(item.id)
      if (keep) usedLinkIds.add(item.id!)
      links.push({ ...target, slot, position, ...(keep ? { id: item.id! } : {}) })
    })
  }

  if (input.requestBody) addLinks(input.requestBody.definitions, REQUEST_SLOT, 'requestBody.definitions')
  const responseIds = new Set<string>()
  const responses = input.responses.map((response, i) => {
    addLinks(response.definitions, responseSlot(i), `responses[${i}].definitions`)
    const id = response.id !== undefined && ULID.test(response.id) && !responseIds.has(response.id) ? response.id : newId()
    responseIds.add(id)
    return { id, ...(response.status !== undefined ? { status: response.status } : {}) }
  })
  if (problems.length > 0) {
    throw new ApiError('unknown_definition', { message: 'Every linked definition must exist in this version.', fields: problems })
  }

  const body: OperationBody = {
    ...(input.summary !== undefined ? { summary: input.summary } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    method: input.method,
    ...(kind === 'action' ? { path: input.path ?? '' } : {}),
    parameters: input.parameters,
    ...(input.requestBody ? { requestBody: { required: input.requestBody.required } } : {}),
    responses,
  }
  return { body, links }
}

async function operationDto(db: Db, kind: OperationKind, versionId: string, name: string, ctx: UrlContext): Promise<OperationDto> {
  const index = new ContentIndex(await loadContent(db, versionId))
  const operation = (kind === 'action' ? index.content.actions : index.content.triggers).find((o) => o.name === name)
  if (!operation) throw operationNotFound(kind, name)
  return toOperationDto(operation, index, ctx)
}

export async function listOperations(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  query: ContentListQuery,
): Promise<{ items: OperationDto[]; pageInfo: PageInfo }> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  const { version, ctx } = await readVersion(db, target)
  const page: PageRequest = query
  const [{ rows, pageInfo }, content] = await Promise.all([
    paginate(registry.cursors, operationsListing(db, kind, version.id, query.name), page),
    loadContent(db, version.id),
  ])
  const index = new ContentIndex(content)
  return { items: rows.map((row) => toOperationDto(index.operationById.get(row.id) ?? row, index, ctx)), pageInfo }
}

export async function getOperation(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  name: string,
): Promise<OperationDto> {
  authorize(principal, target.organisationId, 'read')
  const { version, ctx } = await readVersion(registry.db, target)
  return operationDto(registry.db, kind, version.id, name, ctx)
}

export async function createOperation(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  input: OperationInput,
): Promise<OperationDto> {
  return writeOperation(registry, principal, target, kind, input.name, async (tx, version, ctx) => {
    const index = new ContentIndex(await loadContent(tx, version.id))
    const { body, links } = planOperation(kind, input, index, undefined)
    if (await findOperation(tx, kind, version.id, input.name)) throw operationConflict(kind, input.name)
    const created = await insertOperation(tx, kind, version.id, { name: input.name, body })
    await replaceLinks(tx, version.id, { kind, id: created.id }, links)
    return operationDto(tx, kind, version.id, created.name, ctx)
  })
}

export async function updateOperation(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  name: string,
  input: OperationInput,
): Promise<OperationDto> {
  return writeOperation(registry, principal, target, kind, input.name, async (tx, version, ctx) => {
    const existing = await findOperation(tx, kind, version.id, name)
    if (!existing) throw operationNotFound(kind, name)
    if (input.id !== existing.id) throw new ApiError('read_only_field', { fields: [{ field: 'id', message: 'is read-only' }] })
    const index = new ContentIndex(await loadContent(tx, version.id))
    const { body, links } = planOperation(kind, input, index, existing)
    if (input.name !== existing.name && (await findOperation(tx, kind, version.id, input.name))) throw operationConflict(kind, input.name)
    await updateOperationRow(tx, kind, existing.id, { name: input.name, body })
    await replaceLinks(tx, version.id, { kind, id: existing.id }, links)
    return operationDto(tx, kind, version.id, input.name, ctx)
  })
}

/**
 * Creates or replaces an operation in a draft's content: authorised for writing, in changeContent's
 * transaction; a unique-key race on `name` still answers the conflict the work checks for.
 */
async function writeOperation(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  name: string,
  work: (tx: Db, version: VersionRecord, ctx: UrlContext) => Promise<OperationDto>,
): Promise<OperationDto> {
  authorize(principal, target.organisationId, 'write')
  try {
    return await changeContent(registry, target, work)
  } catch (error) {
    return rethrowUnique(registry.db, error, () => operationConflict(kind, name))
  }
}

export async function deleteOperation(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  kind: OperationKind,
  name: string,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await changeContent(registry, target, async (tx, version) => {
    const existing = await findOperation(tx, kind, version.id, name)
    if (!existing) throw operationNotFound(kind, name)
    await deleteOperationRow(tx, kind, existing.id)
  })
}

// ---------------------------------------------------------------------------------------------
// Definitions

function definitionConflict(name: string, field = 'name'): ApiError {
  return new ApiError('definition_name_conflict', {
    message: `Definition "${name}" already exists in this version.`,
    fields: [{ field, message: 'is already used' }],
  })
}

function definitionNotFound(name: string): ApiError {
  return new ApiError('definition_not_found', { message: `Definition "${name}" does not exist in this version.` })
}

/** 412 with the reference's DefinitionDeletePreconditionFailed body: the envelope plus `definition`. */
export class DefinitionReferencedError extends ApiError {
  readonly definition: { id: string; name: string; referencedBy: DefinitionDto['referencedBy'] }

  constructor(definition: DefinitionReferencedError['definition'], others: string[]) {
    const names = [definition.name, ...others]
    super('definition_referenced', {
      message:
        `Definition${names.length === 1 ? '' : 's'} ${names.map((n) => `"${n}"`).join(', ')} ${names.length === 1 ? 'is' : 'are'} still referenced; ` +
        'remove the references or delete with force=true (the references then become validation errors).',
      details: definition.referencedBy.map((r) => `${r.type} ${r.name}`).join(', '),
    })
    this.definition = definition
  }

  override toBody(): ReturnType<ApiError['toBody']> & { definition: DefinitionReferencedError['definition'] } {
    return { ...super.toBody(), definition: this.definition }
  }
}

/**
 * Recomputes the $ref links of the given definitions from their documents. Unknown targets are
 * 400, except a reference that already dangled before this change.
 */
async function relinkSchemas(
  tx: Db,
  versionId: string,
  connectorId: string,
  definitions: { record: DefinitionRecord; field: string }[],
): Promise<void> {
  const index = new ContentIndex(await loadContent(tx, versionId))
  const problems: ErrorField[] = []
  for (const { record, field } of definitions) {
    const previous = index.linksOf(record.id)
    const links: NewLink[] = []
    for (const ref of schemaReferences(record.contentType, record.content, connectorId)) {
      const found = index.definitionByName.get(ref.key) ?? (ref.by === 'file' ? index.definitionById.get(ref.key) : undefined)
      if (found) {
        links.push({ slot: '', position: links.length, definitionId: found.id, targetId: found.id, targetName: found.name })
        continue
      }
      const kept = previous.find((l) => l.definitionId === null && (l.targetName === ref.key || l.targetId === ref.key))
      if (kept) links.push({ slot: '', position: links.length, definitionId: null, targetId: kept.targetId, targetName: kept.targetName })
      else problems.push({ field, message: `references definition "${ref.key}", which does not exist in this version` })
    }
    await replaceLinks(tx, versionId, { kind: 'definition', id: record.id }, links)
  }
  if (problems.length > 0) {
    throw new ApiError('unknown_definition', {
      message: 'A schema references a definition that does not exist in this version or this request.',
      fields: problems,
    })
  }
}

/**
 * After a rename, the documents of the other definitions linked to the renamed one name it by
 * its new name, so that the stored relation and the document never disagree (a later update or
 * GetRawSchema would otherwise resolve the old name: to nothing, or to another definition).
 */
async function renameInReferrers(tx: Db, versionId: string, connectorId: string, rename: { id: string; from: string; to: string }): Promise<void> {
  const index = new ContentIndex(await loadContent(tx, versionId))
  for (const link of index.linksByTarget.get(rename.id) ?? []) {
    const referrer = link.sourceKind === 'definition' && link.sourceId !== rename.id ? index.definitionById.get(link.sourceId) : undefined
    if (!referrer) continue
    const content = renameSchemaReferences(referrer.contentType, referrer.content, connectorId, rename.from, rename.to)
    if (content !== referrer.content) await updateDefinitionRow(tx, referrer.id, { ...referrer, content })
  }
}

function definitionFields(body: { name: string; accept: string[]; description?: string }, schema: { contentType: string; content: string }) {
  return { name: body.name, description: body.description ?? null, accept: body.accept, contentType: schema.contentType, content: schema.content }
}

export async function listDefinitions(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  query: ContentListQuery,
): Promise<{ items: DefinitionDto[]; pageInfo: PageInfo }> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  const { version, ctx } = await readVersion(db, target)
  const [{ rows, pageInfo }, content] = await Promise.all([
    paginate(registry.cursors, definitionsListing(db, version.id, query.name), query),
    loadContent(db, version.id),
  ])
  const index = new ContentIndex(content)
  return { items: rows.map((row) => toDefinitionDto(row, index, ctx)), pageInfo }
}

export async function getDefinition(registry: Registry, principal: Principal, target: ContentTarget, name: string): Promise<DefinitionDto> {
  authorize(principal, target.organisationId, 'read')
  const { version, ctx } = await readVersion(registry.db, target)
  const index = new ContentIndex(await loadContent(registry.db, version.id))
  const definition = index.definitionByName.get(name)
  if (!definition) throw definitionNotFound(name)
  return toDefinitionDto(definition, index, ctx)
}

export async function createDefinitions(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  body: DefinitionsCreate,
): Promise<DefinitionDto[]> {
  authorize(principal, target.organisationId, 'write')
  const seen = new Set<string>()
  body.definitions.forEach((d, i) => {
    if (seen.has(d.name)) throw definitionConflict(d.name, `definitions[${i}].name`)
    seen.add(d.name)
  })
  const { db } = registry
  try {
    return await changeContent(registry, target, async (tx, version, ctx) => {
      const created: { record: DefinitionRecord; field: string }[] = []
      for (const [i, d] of body.definitions.entries()) {
        if (await findDefinition(tx, version.id, d.name)) throw definitionConflict(d.name, `definitions[${i}].name`)
        const record = await insertDefinition(tx, version.id, definitionFields(d, d.schema))
        created.push({ record, field: `definitions[${i}].schema.content` })
      }
      // References that dangled because a definition of that name was deleted point at the new one.
      for (const { record } of created) await relinkByName(tx, version.id, record)
      // All definitions of the request exist now, so they may reference each other (even in cycles).
      await relinkSchemas(tx, version.id, target.connectorId, created)
      const index = new ContentIndex(await loadContent(tx, version.id))
      return created.map(({ record }) => toDefinitionDto(index.definitionById.get(record.id)!, index, ctx))
    })
  } catch (error) {
    return rethrowUnique(db, error, () => definitionConflict(body.definitions.map((d) => d.name).join('", "')))
  }
}

export async function updateDefinition(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  name: string,
  body: DefinitionUpdate,
): Promise<DefinitionDto> {
  authorize(principal, target.organisationId, 'write')
  const { db } = registry
  try {
    return await changeContent(registry, target, async (tx, version, ctx) => {
      const existing = await findDefinition(tx, version.id, name)
      if (!existing) throw definitionNotFound(name)
      if (body.id !== existing.id) throw new ApiError('read_only_field', { fields: [{ field: 'id', message: 'is read-only' }] })
      const renamed = body.name !== existing.name
      if (renamed && (await findDefinition(tx, version.id, body.name))) throw definitionConflict(body.name)
      // PUT replaces: an omitted description is cleared; an omitted schema keeps the document
      // (its references to this definition follow a rename, like those of the other documents).
      const kept = renamed
        ? renameSchemaReferences(existing.contentType, existing.content, target.connectorId, existing.name, body.name)
        : existing.content
      const fields = definitionFields(body, body.schema ?? { contentType: existing.contentType, content: kept })
      await updateDefinitionRow(tx, existing.id, fields)
      if (renamed) {
        await relinkByName(tx, version.id, { id: existing.id, name: body.name })
        await renameInReferrers(tx, version.id, target.connectorId, { id: existing.id, from: existing.name, to: body.name })
      }
      await relinkSchemas(tx, version.id, target.connectorId, [{ record: { ...existing, ...fields }, field: 'schema.content' }])
      const index = new ContentIndex(await loadContent(tx, version.id))
      return toDefinitionDto(index.definitionById.get(existing.id)!, index, ctx)
    })
  } catch (error) {
    return rethrowUnique(db, error, () => definitionConflict(body.name))
  }
}

/**
 * Deletes definitions unless something outside the deleted set references them (412 with the
 * first such definition and its referrers); with force the references are left dangling and
 * become validation errors.
 */
async function removeDefinitions(tx: Db, doomed: DefinitionRecord[], force: boolean, index: ContentIndex): Promise<void> {
  const ids = new Set(doomed.map((d) => d.id))
  const blocked = doomed
    .map((d) => ({
      definition: d,
      referrers: referencedBy(index, d.id).filter((r) => !(r.type === 'definition' && ids.has(r.id))),
    }))
    .filter((b) => b.referrers.length > 0)
  if (blocked.length > 0 && !force) {
    const [first, ...rest] = blocked
    throw new DefinitionReferencedError(
      { id: first!.definition.id, name: first!.definition.name, referencedBy: first!.referrers },
      rest.map((b) => b.definition.name),
    )
  }
  await deleteDefinitionRows(tx, [...ids])
}

export async function deleteDefinition(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  name: string,
  force: boolean,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await changeContent(registry, target, async (tx, version) => {
    const index = new ContentIndex(await loadContent(tx, version.id))
    const definition = index.definitionByName.get(name)
    if (!definition) throw definitionNotFound(name)
    await removeDefinitions(tx, [definition], force, index)
  })
}

export async function deleteDefinitions(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  body: DefinitionsDelete,
  force: boolean,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  const ids = body.ids ?? []
  const names = body.names ?? []
  if (body.all === true && (body.ids !== undefined || body.names !== undefined)) {
    throw new ApiError('validation_failed', {
      message: '"all" cannot be combined with "ids" or "names".',
      fields: [{ field: 'all', message: 'excludes ids and names' }],
    })
  }
  if (body.all !== true && ids.length === 0 && names.length === 0) {
    throw new ApiError('validation_failed', {
      message: 'Name the definitions to delete with ids or names, or set all to true.',
      fields: [{ field: 'body', message: 'selects no definition' }],
    })
  }
  await changeContent(registry, target, async (tx, version) => {
    const index = new ContentIndex(await loadContent(tx, version.id))
    if (body.all === true) return removeDefinitions(tx, index.content.definitions, force, index)
    const missing: ErrorField[] = []
    const doomed = new Map<string, { definition: DefinitionRecord; by: string }>()
    const twice: ErrorField[] = []
    const select = (definition: DefinitionRecord | undefined, field: string) => {
      if (!definition) return missing.push({ field, message: 'names no definition of this version' })
      const earlier = doomed.get(definition.id)
      if (earlier) return twice.push({ field, message: `selects the same definition as ${earlier.by}` })
      doomed.set(definition.id, { definition, by: field })
    }
    ids.forEach((id, i) => select(index.definitionById.get(id), `ids[${i}]`))
    names.forEach((name, i) => select(index.definitionByName.get(name), `names[${i}]`))
    if (twice.length > 0) {
      throw new ApiError('validation_failed', { message: 'A definition may be selected once, by id or by name.', fields: twice })
    }
    if (missing.length > 0) throw new ApiError('definition_not_found', { message: 'Some definitions do not exist in this version.', fields: missing })
    await removeDefinitions(tx, [...doomed.values()].map((d) => d.definition), force, index)
  })
}

/** GetRawSchema: the document of `<name or id>.<ext>`, references rewritten to current URLs. */
export async function getRawSchema(
  registry: Registry,
  principal: Principal,
  target: ContentTarget,
  filename: string,
): Promise<{ contentType: string; document: string }> {
  authorize(principal, target.organisationId, 'read')
  const { version, ctx } = await readVersion(registry.db, target)
  const index = new ContentIndex(await loadContent(registry.db, version.id))
  const key = schemaFileKey(filename)
  const definition = index.definitionByName.get(key) ?? index.definitionById.get(key)
  if (!definition) throw definitionNotFound(key)
  return { contentType: definition.contentType, document: rawSchemaDocument(definition, index, ctx) }
}
