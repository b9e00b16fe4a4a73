import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { Message } from '../http/schemas.ts'
import type { ContentError, DefinitionDto, OperationDto, OperationParameter } from './content.schemas.ts'

/**
 * The content rules as plain functions over a version's content: representations (with the
 * links resolved to definitions), the references JSON Schema documents make, and validation.
 * Validation is never stored: it runs on every read and write, so it always reflects the
 * current content.
 */

export type OperationKind = 'action' | 'trigger'
export type SourceKind = OperationKind | 'definition'

export interface DefinitionRecord {
  id: string
  versionId: string
  name: string
  description: string | null
  accept: string[]
  contentType: string
  content: string
  createdAt: string
  updatedAt: string
}

/** The stored body of an action or trigger: everything but the links to definitions. */
export interface OperationBody {
  summary?: string
  description?: string
  method: OperationDto['method']
  path?: string
  parameters: OperationParameter[]
  requestBody?: { required: boolean }
  responses: { id: string; status?: number }[]
}

export interface OperationRecord {
  id: string
  versionId: string
  kind: OperationKind
  name: string
  body: OperationBody
  createdAt: string
  updatedAt: string
}

export interface LinkRecord {
  id: string
  sourceKind: SourceKind
  sourceId: string
  /** JSON pointer of the list the link is in ("/requestBody/definitions", "/responses/0/definitions"; "" for $refs). */
  slot: string
  position: number
  /** null: the definition was force-deleted; target* say what it was. */
  definitionId: string | null
  targetId: string
  targetName: string
}

export interface VersionContent {
  definitions: DefinitionRecord[]
  actions: OperationRecord[]
  triggers: OperationRecord[]
  links: LinkRecord[]
}

/** Where the version lives, for definition URLs. */
export interface UrlContext {
  baseUrl: string
  organisationId: string
  connectorId: string
  versionName: string
}

export const REQUEST_SLOT = '/requestBody/definitions'
export const responseSlot = (index: number) => `/responses/${index}/definitions`

// ---------------------------------------------------------------------------------------------
// Schema documents

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase()
}

export function isJsonSchema(contentType: string): boolean {
  const type = mediaType(contentType)
  return type === 'application/json' || type.endsWith('+json')
}

export function schemaExtension(contentType: string): string {
  const type = mediaType(contentType)
  if (isJsonSchema(type)) return 'json'
  if (type.endsWith('yaml') || type.endsWith('yml')) return 'yaml'
  if (type.endsWith('xml')) return 'xsd'
  return 'schema'
}

export function definitionUrl(ctx: UrlContext, definition: Pick<DefinitionRecord, 'name' | 'contentType'>): string {
  return (
    `${ctx.baseUrl}/o/${ctx.organisationId}/schemas/${ctx.connectorId}/${encodeURIComponent(ctx.versionName)}/` +
    `${definition.name}.${schemaExtension(definition.contentType)}`
  )
}

/** `<name-or-id>.<ext>` → `<name-or-id>`; names never contain dots. */
export function schemaFileKey(filename: string): string {
  const dot = filename.indexOf('.')
  return dot === -1 ? filename : filename.slice(0, dot)
}

function parseJson(content: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(content) as unknown }
  } catch {
    return { ok: false }
  }
}

function walkRefs(node: unknown, visit: (ref: string, holder: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walkRefs(item, visit)
    return
  }
  if (node === null || typeof node !== 'object') return
  const record = node as Record<string, unknown>
  for (const [key, value] of Object.entries(record)) {
    if (key === '$ref' && typeof value === 'string') visit(value, record)
    else walkRefs(value, visit)
  }
}

/**
 * Which definition a `$ref` names: `#/$defs/<name>` when the document does not define that
 * name itself, or the url of a definition of this connector (`…/schemas/<connector>/<version>/<name or id>.<ext>`,
 * resolved within the current version). Anything else is a reference inside the document or
 * to the outside world, and not ours.
 */
function refTarget(ref: string, localDefs: ReadonlySet<string>, connectorId: string): { key: string; by: 'name' | 'file' } | undefined {
  const local = /^#\/\$defs\/([^/]+)/.exec(ref)
  if (local) {
    const name = decodeURIComponent(local[1]!.replace(/~1/g, '/').replace(/~0/g, '~'))
    return localDefs.has(name) ? undefined : { key: name, by: 'name' }
  }
  const external = /\/schemas\/([0-9A-HJKMNP-TV-Z]{26})\/[^/]+\/([^/#?]+)/.exec(ref)
  if (external && external[1] === connectorId) return { key: schemaFileKey(decodeURIComponent(external[2]!)), by: 'file' }
  return undefined
}

function localDefsOf(document: unknown): Set<string> {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return new Set()
  const defs = (document as Record<string, unknown>).$defs
  return new Set(defs && typeof defs === 'object' ? Object.keys(defs) : [])
}

/** The definitions a schema document references (by name or by file key), deduplicated, in document order. */
export function schemaReferences(contentType: string, content: string, connectorId: string): { key: string; by: 'name' | 'file' }[] {
  if (!isJsonSchema(contentType)) return []
  const parsed = parseJson(content)
  if (!parsed.ok) return []
  const local = localDefsOf(parsed.value)
  const out: { key: string; by: 'name' | 'file' }[] = []
  const seen = new Set<string>()
  walkRefs(parsed.value, (ref) => {
    const target = refTarget(ref, local, connectorId)
    if (target && !seen.has(`${target.by}:${target.key}`)) {
      seen.add(`${target.by}:${target.key}`)
      out.push(target)
    }
  })
  return out
}

/**
 * The document with its references to definition `from` naming `to` instead (the definition was
 * renamed), or the document unchanged when it has none. References are relations that follow a
 * rename; the document must keep naming the definition it is linked to.
 */
export function renameSchemaReferences(contentType: string, content: string, connectorId: string, from: string, to: string): string {
  if (!isJsonSchema(contentType)) return content
  const parsed = parseJson(content)
  if (!parsed.ok) return content
  const local = localDefsOf(parsed.value)
  let changed = false
  walkRefs(parsed.value, (ref, holder) => {
    const target = refTarget(ref, local, connectorId)
    if (!target || target.key !== from) return
    holder.$ref =
      target.by === 'name'
        ? ref.replace(/^#\/\$defs\/[^/]+/, () => `#/$defs/${to}`)
        : ref.replace(/(\/schemas\/[0-9A-HJKMNP-TV-Z]{26}\/[^/]+\/)[^/#?.]+/, (_match, prefix: string) => `${prefix}${to}`)
    changed = true
  })
  return changed ? JSON.stringify(parsed.value) : content
}

/** The schema document as served: references to other definitions become their current URLs. */
export function rawSchemaDocument(definition: DefinitionRecord, index: ContentIndex, ctx: UrlContext): string {
  if (!isJsonSchema(definition.contentType)) return definition.content
  const parsed = parseJson(definition.content)
  if (!parsed.ok) return definition.content
  const local = localDefsOf(parsed.value)
  walkRefs(parsed.value, (ref, holder) => {
    const target = refTarget(ref, local, ctx.connectorId)
    if (!target) return
    const found = index.definitionByName.get(target.key) ?? (target.by === 'file' ? index.definitionById.get(target.key) : undefined)
    if (found) {
      const fragment = target.by === 'name' ? ref.replace(/^#\/\$defs\/[^/]+/, '') : (/#.*$/.exec(ref)?.[0] ?? '')
      holder.$ref = definitionUrl(ctx, found) + (fragment && !fragment.startsWith('#') ? `#${fragment}` : fragment)
    }
  })
  return JSON.stringify(parsed.value)
}

// ---------------------------------------------------------------------------------------------
// Representations

/** Lookups over one version's content. */
export class ContentIndex {
  readonly definitionById: Map<string, DefinitionRecord>
  readonly definitionByName: Map<string, DefinitionRecord>
  readonly operationById: Map<string, OperationRecord>
  readonly linksBySource = new Map<string, LinkRecord[]>()
  readonly linksByTarget = new Map<string, LinkRecord[]>()

  constructor(readonly content: VersionContent) {
    this.definitionById = new Map(content.definitions.map((d) => [d.id, d]))
    this.definitionByName = new Map(content.definitions.map((d) => [d.name, d]))
    this.operationById = new Map([...content.actions, ...content.triggers].map((o) => [o.id, o]))
    const sorted = [...content.links].sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : a.position - b.position))
    for (const link of sorted) {
      push(this.linksBySource, link.sourceId, link)
      if (link.definitionId !== null) push(this.linksByTarget, link.definitionId, link)
    }
  }

  linksOf(sourceId: string, slot?: string): LinkRecord[] {
    const links = this.linksBySource.get(sourceId) ?? []
    return slot === undefined ? links : links.filter((l) => l.slot === slot)
  }

  sourceName(link: LinkRecord): string {
    if (link.sourceKind === 'definition') return this.definitionById.get(link.sourceId)?.name ?? ''
    return this.operationById.get(link.sourceId)?.name ?? ''
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

export function referencedBy(index: ContentIndex, definitionId: string): DefinitionDto['referencedBy'] {
  const seen = new Set<string>()
  const out: DefinitionDto['referencedBy'] = []
  for (const link of index.linksByTarget.get(definitionId) ?? []) {
    if (seen.has(link.sourceId)) continue
    seen.add(link.sourceId)
    out.push({ type: link.sourceKind, id: link.sourceId, name: index.sourceName(link) })
  }
  return out.sort((a, b) => (a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type < b.type ? -1 : 1))
}

export function toDefinitionDto(definition: DefinitionRecord, index: ContentIndex, ctx: UrlContext): DefinitionDto {
  return {
    id: definition.id,
    name: definition.name,
    accept: definition.accept,
    ...(definition.description !== null ? { description: definition.description } : {}),
    url: definitionUrl(ctx, definition),
    referencedBy: referencedBy(index, definition.id),
  }
}

/** A dangling link still shows what it pointed at, so clients can see and fix it. */
function linkTargetDto(link: LinkRecord, index: ContentIndex, ctx: UrlContext): DefinitionDto {
  const target = link.definitionId === null ? undefined : index.definitionById.get(link.definitionId)
  if (target) return toDefinitionDto(target, index, ctx)
  return {
    id: link.targetId,
    name: link.targetName,
    accept: [],
    url: definitionUrl(ctx, { name: link.targetName, contentType: 'application/schema+json' }),
    referencedBy: [],
  }
}

export function toOperationDto(operation: OperationRecord, index: ContentIndex, ctx: UrlContext): OperationDto {
  const { body } = operation
  const links = (slot: string) => index.linksOf(operation.id, slot).map((l) => ({ id: l.id, definition: linkTargetDto(l, index, ctx) }))
  return {
    id: operation.id,
    type: 'http',
    name: operation.name,
    ...(body.summary !== undefined ? { summary: body.summary } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    errors: validateOperation(operation, index),
    method: body.method,
    ...(operation.kind === 'action' ? { path: body.path ?? '' } : {}),
    parameters: body.parameters,
    ...(body.requestBody ? { requestBody: { required: body.requestBody.required, definitions: links(REQUEST_SLOT) } } : {}),
    responses: body.responses.map((r, i) => ({
      id: r.id,
      ...(r.status !== undefined ? { status: r.status } : {}),
      definitions: links(responseSlot(i)),
    })),
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

const PLACEHOLDER = /\{\{\s*param\.([^\s}]+)\s*\}\}/g

function linkIssues(links: LinkRecord[], slot: string, index: ContentIndex, issues: ContentError[]): void {
  const covered = new Map<string, number>()
  links.forEach((link, position) => {
    const target = link.definitionId === null ? undefined : index.definitionById.get(link.definitionId)
    if (!target) {
      issues.push({
        field: `${slot}/${position}/definition`,
        message: `Definition "${link.targetName}" was deleted; link another definition or remove this one.`,
        severity: 'error',
      })
      return
    }
    for (const type of target.accept.map((a) => a.toLowerCase())) {
      const earlier = covered.get(type)
      if (earlier !== undefined) {
        issues.push({
          field: `${slot}/${position}`,
          message: `Media type "${type}" is already covered by ${slot.slice(1)}/${earlier}; link one definition per media type.`,
          severity: 'error',
        })
      } else covered.set(type, position)
    }
  })
}

/** The `errors` of an action or trigger: JSON pointers into its representation. */
export function validateOperation(operation: OperationRecord, index: ContentIndex): ContentError[] {
  const issues: ContentError[] = []
  const { body } = operation
  const noun = operation.kind === 'action' ? 'action' : 'trigger'

  const seenParams = new Map<string, number>()
  body.parameters.forEach((p, i) => {
    const key = `${p.in}:${p.name.toLowerCase()}`
    const earlier = seenParams.get(key)
    if (earlier !== undefined) {
      issues.push({ field: `/parameters/${i}`, message: `Duplicates parameters/${earlier} (${p.in} "${p.name}").`, severity: 'error' })
    } else seenParams.set(key, i)
  })

  if (operation.kind === 'action') {
    const path = body.path ?? ''
    const used = new Set<string>()
    for (const match of path.matchAll(PLACEHOLDER)) {
      const name = match[1]!
      used.add(name)
      if (!body.parameters.some((p) => p.name === name)) {
        issues.push({ field: '/path', message: `The placeholder {{ param.${name} }} names no parameter.`, severity: 'error' })
      }
    }
    body.parameters.forEach((p, i) => {
      if (p.in === 'path' && !used.has(p.name)) {
        issues.push({
          field: `/parameters/${i}`,
          message: `Path parameter "${p.name}" is not used in the path; add {{ param.${p.name} }} to it.`,
          severity: 'warning',
        })
      }
    })
  }

  if (body.requestBody) {
    const links = index.linksOf(operation.id, REQUEST_SLOT)
    linkIssues(links, REQUEST_SLOT, index, issues)
    if (body.requestBody.required && links.length === 0) {
      issues.push({
        field: REQUEST_SLOT,
        message: 'A request body is required but no definition describes it.',
        severity: 'warning',
      })
    }
  }

  if (body.responses.length === 0) {
    issues.push({ field: '/responses', message: `At least one response is required for the ${noun} to be valid.`, severity: 'error' })
  }
  const statuses = new Map<string, number>()
  let anyResponseDefinition = false
  body.responses.forEach((response, i) => {
    const key = response.status === undefined ? 'default' : String(response.status)
    const earlier = statuses.get(key)
    if (earlier !== undefined) {
      issues.push({
        field: response.status === undefined ? `/responses/${i}` : `/responses/${i}/status`,
        message:
          response.status === undefined
            ? `Only one default response (without status) is allowed; responses/${earlier} is one already.`
            : `Status ${response.status} is already used by responses/${earlier}.`,
        severity: 'error',
      })
    } else statuses.set(key, i)
    const links = index.linksOf(operation.id, responseSlot(i))
    if (links.length > 0) anyResponseDefinition = true
    linkIssues(links, responseSlot(i), index, issues)
  })
  // Only actions: a trigger's response is what the platform answers the webhook, often without a body.
  if (operation.kind === 'action' && body.responses.length > 0 && !anyResponseDefinition) {
    issues.push({
      field: '/responses',
      message: 'No response links a definition, so what the action returns is undescribed.',
      severity: 'warning',
    })
  }
  return issues
}

let draft2020: Ajv2020 | undefined
let draft07: Ajv | undefined

function schemaValidator(document: unknown): Ajv | Ajv2020 | undefined {
  const declared =
    document !== null && typeof document === 'object' && !Array.isArray(document)
      ? (document as Record<string, unknown>).$schema
      : undefined
  if (declared === undefined || (typeof declared === 'string' && declared.includes('2020-12'))) {
    return (draft2020 ??= new Ajv2020({ strict: false, validateFormats: false, allErrors: true }))
  }
  if (typeof declared === 'string' && declared.includes('draft-07')) {
    return (draft07 ??= new Ajv({ strict: false, validateFormats: false, allErrors: true }))
  }
  return undefined
}

/** Problems of a definition; pointers into the DefinitionUpdate shape ("/schema/content", "/accept"). */
export function validateDefinition(definition: DefinitionRecord, index: ContentIndex): ContentError[] {
  const issues: ContentError[] = []
  if (definition.accept.length === 0) {
    issues.push({ field: '/accept', message: 'No media type is accepted, so no data can use this definition.', severity: 'warning' })
  }
  if (isJsonSchema(definition.contentType)) {
    const parsed = parseJson(definition.content)
    if (!parsed.ok) {
      issues.push({ field: '/schema/content', message: 'The JSON Schema document is not valid JSON.', severity: 'error' })
    } else if (typeof parsed.value !== 'boolean' && (parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value))) {
      issues.push({ field: '/schema/content', message: 'A JSON Schema document must be an object or a boolean.', severity: 'error' })
    } else {
      const ajv = schemaValidator(parsed.value)
      if (!ajv) {
        issues.push({
          field: '/schema/content/$schema',
          message: 'Only JSON Schema 2020-12 and draft-07 documents are checked; this one was stored unchecked.',
          severity: 'warning',
        })
      } else if (!ajv.validateSchema(parsed.value as object)) {
        const details = (ajv.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
        issues.push({
          field: '/schema/content',
          message: `The document is not a valid JSON Schema: ${details.join('; ')}.`,
          severity: 'error',
        })
      }
    }
  }
  for (const link of index.linksOf(definition.id)) {
    if (link.definitionId === null || !index.definitionById.has(link.definitionId)) {
      issues.push({
        field: '/schema/content',
        message: `It references definition "${link.targetName}", which was deleted.`,
        severity: 'error',
      })
    }
  }
  return issues
}

export interface VersionIssue extends ContentError {
  kind: SourceKind
  name: string
}

/** Every problem of the version's content, definitions first, then actions, then triggers (by name). */
export function versionIssues(index: ContentIndex): VersionIssue[] {
  const byName = <T extends { name: string }>(list: T[]) => [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const out: VersionIssue[] = []
  for (const d of byName(index.content.definitions)) {
    for (const issue of validateDefinition(d, index)) out.push({ ...issue, kind: 'definition', name: d.name })
  }
  for (const o of byName([...index.content.actions, ...index.content.triggers])) {
    for (const issue of validateOperation(o, index)) out.push({ ...issue, kind: o.kind, name: o.name })
  }
  out.sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind))
  return out
}

function kindOrder(kind: SourceKind): number {
  return kind === 'definition' ? 0 : kind === 'action' ? 1 : 2
}

export function issueLine(issue: VersionIssue): string {
  return `${issue.kind} "${issue.name}" ${issue.field}: ${issue.message}`
}

/** The version's `messages`: one summary per severity, each problem as a detail line. */
export function summaryMessages(issues: VersionIssue[]): Message[] {
  const errors = issues.filter((i) => i.severity === 'error')
  const warnings = issues.filter((i) => i.severity === 'warning')
  const messages: Message[] = []
  if (errors.length > 0) {
    messages.push({
      severity: 'error',
      text: `${errors.length} validation error${errors.length === 1 ? '' : 's'} in the version's content; it cannot be published until they are fixed.`,
      detail: errors.map(issueLine),
    })
  }
  if (warnings.length > 0) {
    messages.push({
      severity: 'warning',
      text: `${warnings.length} validation warning${warnings.length === 1 ? '' : 's'} in the version's content.`,
      detail: warnings.map(issueLine),
    })
  }
  return messages
}
