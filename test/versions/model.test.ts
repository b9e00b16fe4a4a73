import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { buildTestApp, createConnector, type TestApp, type TestOrg, type TestResponse } from '../helpers/app.ts'
import { httpAction, httpTrigger } from '../content/support.ts'

/**
 * Model-based test of the version rules: random sequences of create / update / set-default /
 * publish / unpublish / delete against ONE connector through the HTTP API, mirrored on an
 * in-memory model. After every step the API (statuses, error codes, response bodies, the
 * `latest` and `default` aliases, the version list with its flags and order, the versions
 * embedded in GetConnector) and the stored rows (`connector_versions`, the pin in
 * `connector_defaults`, the connector's updatedAt) must agree with the model exactly.
 *
 * The sequences also change the versions' content (definitions, actions, triggers): create
 * definitions (valid or invalid JSON Schema, referencing another definition or not), rename /
 * replace them, delete them (one or in bulk, with or without force), create / relink / rename /
 * delete actions and triggers that link a definition by name. The model predicts every outcome
 * (404, 409 `version_published` on published versions, 400 `unknown_definition`, 412
 * `definition_referenced` and what references the definition, name conflicts), which references
 * dangle, each entity's validation errors and warnings, the version's `messages`, whether
 * PublishConnector is refused (400 `version_invalid`) and the deep copy `fromVersion` makes.
 * After every step the stored content rows of every version (names in creation order, every
 * reference with its source, slot, target name and whether it resolves to a definition of the
 * SAME version) must agree with the model; after every successful step so must the content
 * listings, each definition's referencedBy, each action's/trigger's errors and links, and the
 * messages of GetConnectorVersion.
 *
 * The model records the ids and timestamps the API hands back (it cannot predict the database
 * clock), and derives latest from (publishedAt, id) exactly as the rules say, so two publishes
 * landing in the same millisecond cannot make it diverge.
 *
 * Each run uses a fresh organisation (its own API key, so its own rate-limit budget) and a
 * fresh connector, starts with one to three drafts and then runs up to 40 random commands.
 * Reproduce a failure with the seed/path fast-check prints: FC_SEED=<seed> FC_PATH=<path>;
 * FC_RUNS=<n> runs more (or fewer) than the default 40 sequences.
 */

let t: TestApp
/** MODEL_STATS=1 prints how often each operation got each answer (to see what the random runs exercise). */
const stats = process.env.MODEL_STATS ? new Map<string, number>() : undefined
before(async () => {
  t = await buildTestApp()
  if (stats) {
    const request = t.request.bind(t)
    t.request = async (options) => {
      const res = await request(options)
      const route = String(options.url).replace(/\?.*$/, '').replace(/^.*\/versions\/[^/]+/, '{version}').replace(/^.*\/versions$/, 'versions')
      const key = `${options.method} ${route.replace(/\/(definitions|actions|triggers)\/[^/]+$/, '/$1/{name}')} ${res.status} ${res.body?.code ?? ''}`
      stats.set(key, (stats.get(key) ?? 0) + 1)
      return res
    }
  }
})
after(async () => {
  if (stats) console.log([...stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${String(n).padStart(6)} ${k}`).join('\n'))
  await t.close()
})

// ---------------------------------------------------------------------------------------------
// Model

interface ModelVersion {
  id: string
  name: string
  description: string | null
  publishedAt: string | null
  createdAt: string
  updatedAt: string
  /** Stored revision: moves with every change to the version or its content, never otherwise. */
  revision: number
  /** Creation order (the listings' order); a rename keeps the place. */
  definitions: ModelDefinition[]
  /** Actions and triggers, creation order. */
  operations: ModelOperation[]
}

/** A JSON Schema document that is a valid schema, an invalid one (`type: "strin"`), or not JSON at all. */
type SchemaKind = 'valid' | 'invalid' | 'not-json'
type OpKind = 'action' | 'trigger'

interface ModelDefinition {
  name: string
  schema: SchemaKind
  /** accept is ['application/json'] (true) or empty (false: a warning). */
  accept: boolean
  /**
   * The definition its document `$ref`s, by the name the stored reference shows (it follows a
   * rename of the target); null: none. It dangles while no definition of that name exists: a
   * reference only dangles after a forced delete, and re-creating (or renaming another
   * definition to) that name resolves it again.
   */
  ref: string | null
}

interface ModelOperation {
  kind: OpKind
  name: string
  /** The linked definition (action: response 0, trigger: request body), by name; null: none. Dangles like `ref`. */
  link: string | null
}

interface Model {
  /** Keyed by name; names are unique per connector. */
  versions: Map<string, ModelVersion>
  pinnedId: string | null
  /** connectors.updated_at as last seen; must not move on failures, must not go back on successes. */
  connectorUpdatedAt: string
  step: number
}

interface Real {
  /** Each run has its own organisation and key (the API rate-limits per key) and connector. */
  org: TestOrg
  connectorId: string
}

function latestOf(model: Model): ModelVersion | undefined {
  let best: ModelVersion | undefined
  for (const v of model.versions.values()) {
    if (v.publishedAt === null) continue
    if (!best || v.publishedAt > best.publishedAt! || (v.publishedAt === best.publishedAt && v.id > best.id)) best = v
  }
  return best
}

function byId(model: Model, id: string | null): ModelVersion | undefined {
  if (id === null) return undefined
  for (const v of model.versions.values()) if (v.id === id) return v
  return undefined
}

function defaultOf(model: Model): ModelVersion | undefined {
  return byId(model, model.pinnedId) ?? latestOf(model)
}

/** What a `{version}` path segment (name, or alias in any case) resolves to. */
function resolve(model: Model, ref: string): ModelVersion | undefined {
  const lower = ref.toLowerCase()
  if (lower === 'latest') return latestOf(model)
  if (lower === 'default') return defaultOf(model)
  return model.versions.get(ref)
}

// Content rules, as the model sees them.

const definitionNames = (v: ModelVersion): Set<string> => new Set(v.definitions.map((d) => d.name))

interface Issue {
  kind: 'definition' | OpKind
  name: string
  field: string
  severity: 'error' | 'warning'
}

const KIND_ORDER = { definition: 0, action: 1, trigger: 2 } as const
/** Where an action's / a trigger's link lives, and the warning pointer when it links nothing. */
const SLOT = { action: '/responses/0/definitions', trigger: '/requestBody/definitions' } as const
const UNLINKED = { action: '/responses', trigger: '/requestBody/definitions' } as const

/**
 * Every validation problem of a version's content: definitions first, then actions, then
 * triggers, each kind by name; per entity in the order the rules check.
 */
function issuesOf(v: ModelVersion): Issue[] {
  const names = definitionNames(v)
  const out: Issue[] = []
  for (const d of v.definitions) {
    if (!d.accept) out.push({ kind: 'definition', name: d.name, field: '/accept', severity: 'warning' })
    if (d.schema !== 'valid') out.push({ kind: 'definition', name: d.name, field: '/schema/content', severity: 'error' })
    if (d.ref !== null && !names.has(d.ref)) out.push({ kind: 'definition', name: d.name, field: '/schema/content', severity: 'error' })
  }
  for (const o of v.operations) {
    if (o.link === null) out.push({ kind: o.kind, name: o.name, field: UNLINKED[o.kind], severity: 'warning' })
    else if (!names.has(o.link)) out.push({ kind: o.kind, name: o.name, field: `${SLOT[o.kind]}/0/definition`, severity: 'error' })
  }
  // Stable: one entity's issues keep their order.
  return out.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The `fields[].field` of a version_invalid error: `<plural>.<name>` then the pointer as a path. */
function fieldPathOf(issue: Issue): string {
  let out = `${issue.kind}s.${issue.name}`
  for (const part of issue.field.split('/').slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`
  return out
}

const hasErrors = (v: ModelVersion): boolean => issuesOf(v).some((i) => i.severity === 'error')
const issueLine = (i: Issue): string => `${i.kind} "${i.name}" ${i.field}`

interface MessageShape {
  severity: string
  /** Each detail line up to the message text: `<kind> "<name>" <field>`. */
  detail: string[]
}

/** The version's `messages` the model expects: one summary per severity, each issue a detail line. */
function contentMessages(v: ModelVersion): MessageShape[] {
  const issues = issuesOf(v)
  return (['error', 'warning'] as const)
    .map((severity) => ({ severity, detail: issues.filter((i) => i.severity === severity).map(issueLine) }))
    .filter((m) => m.detail.length > 0)
}

function messageShapes(body: { messages?: { severity: string; detail?: string[] }[] }): MessageShape[] {
  assert.ok(Array.isArray(body.messages), 'messages must be an array')
  return body.messages.map((m) => ({ severity: m.severity, detail: (m.detail ?? []).map((d) => d.slice(0, d.indexOf(': '))) }))
}

/** referencedBy of a definition: every entity whose reference resolves to it (itself included), by type then name. */
function referrersOf(v: ModelVersion, name: string): string[] {
  return [
    ...v.definitions.filter((d) => d.ref === name).map((d) => `definition:${d.name}`),
    ...v.operations.filter((o) => o.link === name).map((o) => `${o.kind}:${o.name}`),
  ].sort()
}

/** A rename moves every reference to the definition along (references are relations, not names). */
function renameReferences(v: ModelVersion, from: string, to: string): void {
  for (const d of v.definitions) if (d.ref === from) d.ref = to
  for (const o of v.operations) if (o.link === from) o.link = to
}

function copyContent(v: ModelVersion): Pick<ModelVersion, 'definitions' | 'operations'> {
  return { definitions: v.definitions.map((d) => ({ ...d })), operations: v.operations.map((o) => ({ ...o })) }
}

function isReserved(name: string): boolean {
  return ['latest', 'default'].includes(name.toLowerCase())
}

function isInvalidName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name === '' || name === '.' || name === '..' || name.includes('/') || /[\u0000-\u001f\u007f]/.test(name) || name.length > 128
}

/** The API representation the model expects for one version (messages compared separately). */
function expectedDto(model: Model, v: ModelVersion): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    ...(v.description !== null ? { description: v.description } : {}),
    isLatest: latestOf(model)?.id === v.id,
    isDefault: defaultOf(model)?.id === v.id,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
    publishedAt: v.publishedAt,
  }
}

function withoutMessages(body: Record<string, unknown>): Record<string, unknown> {
  const { messages: _messages, ...rest } = body
  return rest
}

function severities(body: { messages?: { severity: string }[] }): string[] {
  assert.ok(Array.isArray(body.messages), 'messages must be an array')
  return body.messages.map((m) => m.severity)
}

/** Records the timestamps a successful write returned; updatedAt never goes back. */
function recordWrite(v: ModelVersion, body: { updatedAt: string; publishedAt: string | null }): void {
  assert.ok(body.updatedAt >= v.updatedAt, `updatedAt went back: ${v.updatedAt} -> ${body.updatedAt}`)
  v.updatedAt = body.updatedAt
  v.publishedAt = body.publishedAt
  v.revision++
}

// ---------------------------------------------------------------------------------------------
// Checks after every step

const versionsUrl = (real: Real): string => `/o/${real.org.id}/connectors/${real.connectorId}/versions`
const versionUrl = (real: Real, ref: string): string => `${versionsUrl(real)}/${encodeURIComponent(ref)}`

const ALIAS_SPELLINGS = {
  latest: ['latest', 'LATEST', 'Latest', 'lAtEsT'],
  default: ['default', 'DEFAULT', 'Default', 'dEfAuLt'],
}

function expectError(res: { status: number; body: { code?: string } }, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`)
  assert.equal(res.body.code, code, `${what}: error code`)
}

/**
 * Checks the API and the stored state against the model. The stored rows (versions, pin,
 * connector updatedAt, every version's content) are compared after every step. The API reads
 * are pure functions of those rows, so after a rejected request (`changed` false: the rows are
 * asserted unchanged) re-reading them through the API would repeat the previous step's check;
 * they are read again after every successful change (the content reads for the `touched`
 * versions and one other).
 */
async function assertAgrees(model: Model, real: Real, changed: boolean, touched: ModelVersion[] = []): Promise<void> {
  const step = model.step++
  const [rows, pins, connector] = await Promise.all([
    t.db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', real.connectorId).orderBy('id').execute(),
    t.db.kysely.selectFrom('connector_defaults').select('version_id').where('connector_id', '=', real.connectorId).execute(),
    t.db.kysely.selectFrom('connectors').select('updated_at').where('id', '=', real.connectorId).executeTakeFirstOrThrow(),
  ])
  const byAge = [...model.versions.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    byAge.map((v) => ({
      id: v.id,
      connector_id: real.connectorId,
      name: v.name,
      description: v.description,
      published_at: v.publishedAt,
      created_at: v.createdAt,
      updated_at: v.updatedAt,
      revision: v.revision,
    })),
    'stored connector_versions disagree with the model',
  )
  assert.deepEqual(pins.map((p) => p.version_id), model.pinnedId === null ? [] : [model.pinnedId], 'stored connector_defaults')
  if (changed) {
    assert.ok(connector.updated_at >= model.connectorUpdatedAt, 'connector updatedAt went back')
  } else {
    assert.equal(connector.updated_at, model.connectorUpdatedAt, 'a rejected request changed the connector')
  }
  model.connectorUpdatedAt = connector.updated_at
  await assertContentRows(model, rows.map((r) => r.id))
  if (!changed && step > 0) return

  const spelled = { latest: ALIAS_SPELLINGS.latest[step % 4]!, default: ALIAS_SPELLINGS.default[step % 4]! }
  const [list, latest, dflt, got] = await Promise.all([
    t.request({ as: real.org, method: 'GET', url: `${versionsUrl(real)}?first=100` }),
    t.request({ as: real.org, method: 'GET', url: versionUrl(real, spelled.latest) }),
    t.request({ as: real.org, method: 'GET', url: versionUrl(real, spelled.default) }),
    t.request({ as: real.org, method: 'GET', url: `/o/${real.org.id}/connectors/${real.connectorId}` }),
  ])

  // ListConnectorVersions: exactly the model's versions, flags, timestamps and order.
  assert.equal(list.status, 200)
  const expected = [...model.versions.values()]
    .sort((a, b) => (a.updatedAt !== b.updatedAt ? (a.updatedAt < b.updatedAt ? 1 : -1) : a.id < b.id ? 1 : -1))
    .map((v) => ({ ...expectedDto(model, v), messages: [] }))
  assert.equal(list.body.totalCount, model.versions.size, 'totalCount')
  assert.deepEqual(list.body.items, expected, 'ListConnectorVersions disagrees with the model')
  const items = list.body.items as { isLatest: boolean; isDefault: boolean; publishedAt: string | null }[]
  assert.ok(items.filter((v) => v.isLatest).length <= 1, 'at most one isLatest')
  assert.ok(items.filter((v) => v.isDefault).length <= 1, 'at most one isDefault')
  assert.equal(items.some((v) => v.isLatest), items.some((v) => v.publishedAt !== null), 'a latest exists iff something is published')

  // GetConnector embeds the versions (oldest first) with the same flags, computed by another code path.
  assert.equal(got.status, 200)
  assert.deepEqual(got.body.versions, byAge.map((v) => ({ ...expectedDto(model, v), messages: [] })), 'GetConnector versions disagree with the model')
  assert.equal(got.body.updatedAt, connector.updated_at, 'GetConnector updatedAt')

  // The aliases, spelled in varying case.
  for (const [res, want, as] of [
    [latest, latestOf(model), spelled.latest],
    [dflt, defaultOf(model), spelled.default],
  ] as const) {
    if (want) {
      assert.equal(res.status, 200, `GET ${as}: ${JSON.stringify(res.body)}`)
      assert.deepEqual(withoutMessages(res.body), expectedDto(model, want), `GET ${as}`)
      assert.deepEqual(messageShapes(res.body), contentMessages(want), `GET ${as}: messages`)
    } else {
      expectError(res, 404, 'version_not_found', `GET ${as}`)
    }
  }

  // Content through the API: of the version(s) the step changed (or created, copied from,
  // renamed, published …), and of one other version in turn. Every version's content is compared
  // in the stored rows after every step; the API reads derive from those.
  const others = [...model.versions.values()].filter((v) => !touched.includes(v))
  const checked = others.length > 0 ? [...touched, others[step % others.length]!] : touched
  await Promise.all(checked.map((v) => assertContentApi(model, real, v)))
}

/**
 * The stored content of every version of the connector: definition, action and trigger names
 * in creation order (definitions with accept and document), and every reference (source, slot,
 * target name) with whether it resolves. A resolved reference must point at the definition of
 * that name in the SAME version (a copy pointing into its source would pass every name-based
 * check). Rejected requests must leave all of it untouched, which this checks after every step.
 */
async function assertContentRows(model: Model, versionIds: string[]): Promise<void> {
  // The stored versions are the model's (checked before), so their ids select the connector's content.
  if (versionIds.length === 0) return
  const named = (table: 'connector_actions' | 'connector_triggers') =>
    t.db.kysely.selectFrom(table as 'connector_actions').select(['id', 'version_id', 'name']).where('version_id', 'in', versionIds).orderBy('id').execute()
  const [definitions, actions, triggers, links] = await Promise.all([
    t.db.kysely
      .selectFrom('connector_definitions')
      .select(['id', 'version_id', 'name', 'accept', 'schema_content'])
      .where('version_id', 'in', versionIds)
      .orderBy('id')
      .execute(),
    named('connector_actions'),
    named('connector_triggers'),
    t.db.kysely.selectFrom('content_references').selectAll().where('version_id', 'in', versionIds).execute(),
  ])
  const actual = new Map<string, { definitions: string[]; actions: string[]; triggers: string[]; links: string[] }>()
  const entry = (versionId: string) => {
    let e = actual.get(versionId)
    if (!e) actual.set(versionId, (e = { definitions: [], actions: [], triggers: [], links: [] }))
    return e
  }
  const sources = new Map<string, { versionId: string; label: string }>()
  const definitionIds = new Map<string, string>()
  for (const d of definitions) {
    entry(d.version_id).definitions.push(`${d.name} accept=${d.accept} ${d.schema_content}`)
    sources.set(d.id, { versionId: d.version_id, label: `definition:${d.name}` })
    definitionIds.set(`${d.version_id}/${d.name}`, d.id)
  }
  for (const [rows, kind] of [
    [actions, 'action'],
    [triggers, 'trigger'],
  ] as const) {
    for (const o of rows) {
      entry(o.version_id)[kind === 'action' ? 'actions' : 'triggers'].push(o.name)
      sources.set(o.id, { versionId: o.version_id, label: `${kind}:${o.name}` })
    }
  }
  for (const l of links) {
    const source = sources.get((l.action_id ?? l.trigger_id ?? l.source_definition_id)!)
    assert.ok(source, `reference ${l.id} has no source`)
    assert.equal(source.versionId, l.version_id, `reference ${l.id} is in another version than its source`)
    if (l.definition_id !== null) {
      assert.equal(l.definition_id, definitionIds.get(`${l.version_id}/${l.target_name}`), `reference ${l.id} resolves to another definition than "${l.target_name}" of its version`)
      assert.equal(l.target_id, l.definition_id, `reference ${l.id}: target_id`)
    }
    entry(l.version_id).links.push(`${source.label} ${l.slot}#${l.position} -> ${l.target_name}${l.definition_id === null ? ' (dangling)' : ''}`)
  }
  const expected = new Map<string, { definitions: string[]; actions: string[]; triggers: string[]; links: string[] }>()
  for (const v of model.versions.values()) {
    const names = definitionNames(v)
    const dangling = (target: string) => (names.has(target) ? '' : ' (dangling)')
    const e = {
      // The document names what it references (a rename rewrites it), so it is exactly what the model would send now.
      definitions: v.definitions.map((d) => `${d.name} accept=${JSON.stringify(d.accept ? ['application/json'] : [])} ${schemaContent(d)}`),
      actions: v.operations.filter((o) => o.kind === 'action').map((o) => o.name),
      triggers: v.operations.filter((o) => o.kind === 'trigger').map((o) => o.name),
      links: [
        ...v.definitions.filter((d) => d.ref !== null).map((d) => `definition:${d.name} #0 -> ${d.ref}${dangling(d.ref!)}`),
        ...v.operations.filter((o) => o.link !== null).map((o) => `${o.kind}:${o.name} ${SLOT[o.kind]}#0 -> ${o.link}${dangling(o.link!)}`),
      ].sort(),
    }
    if (e.definitions.length + e.actions.length + e.triggers.length + e.links.length > 0) expected.set(v.id, e)
  }
  for (const e of actual.values()) e.links.sort()
  assert.deepEqual(Object.fromEntries(actual), Object.fromEntries(expected), 'stored content disagrees with the model')
}

const contentUrl = (real: Real, v: ModelVersion | string, rest: string): string => `${versionUrl(real, typeof v === 'string' ? v : v.name)}${rest}`

/** What the model expects of an action or trigger in a response: its errors (severity and pointer) and linked definition names. */
function expectedOperation(v: ModelVersion, o: ModelOperation): Record<string, unknown> {
  return {
    name: o.name,
    errors: issuesOf(v)
      .filter((i) => i.kind === o.kind && i.name === o.name)
      .map((i) => `${i.severity} ${i.field}`),
    links: o.link === null ? [] : [o.link],
  }
}

function operationShape(kind: OpKind, body: Record<string, any>): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const links = (kind === 'action' ? body.responses?.[0]?.definitions : body.requestBody?.definitions) ?? []
  return {
    name: body.name,
    errors: (body.errors as { severity: string; field: string }[]).map((e) => `${e.severity} ${e.field}`),
    links: (links as { definition: { name: string } }[]).map((l) => l.definition.name),
  }
}

function expectedDefinition(real: Real, v: ModelVersion, d: ModelDefinition): Record<string, unknown> {
  return {
    name: d.name,
    accept: d.accept ? ['application/json'] : [],
    url: `/o/${real.org.id}/schemas/${real.connectorId}/${encodeURIComponent(v.name)}/${d.name}.json`,
    referencedBy: referrersOf(v, d.name),
  }
}

function definitionShape(body: Record<string, any>): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    name: body.name,
    accept: body.accept,
    url: String(body.url).replace(/^https?:\/\/[^/]+/, ''),
    referencedBy: (body.referencedBy as { type: string; name: string }[]).map((r) => `${r.type}:${r.name}`),
  }
}

/** One version's content through the API: GetConnectorVersion's messages and the three listings. */
async function assertContentApi(model: Model, real: Real, v: ModelVersion): Promise<void> {
  const [got, definitions, actions, triggers] = await Promise.all([
    t.request({ as: real.org, method: 'GET', url: versionUrl(real, v.name) }),
    t.request({ as: real.org, method: 'GET', url: contentUrl(real, v, '/definitions?first=100') }),
    t.request({ as: real.org, method: 'GET', url: contentUrl(real, v, '/actions?first=100') }),
    t.request({ as: real.org, method: 'GET', url: contentUrl(real, v, '/triggers?first=100') }),
  ])
  const what = `version ${JSON.stringify(v.name)}`
  assert.equal(got.status, 200, `GET ${what}: ${JSON.stringify(got.body)}`)
  assert.deepEqual(withoutMessages(got.body), expectedDto(model, v), `GET ${what}`)
  assert.deepEqual(messageShapes(got.body), contentMessages(v), `GET ${what}: messages (validation summary)`)
  assert.equal(definitions.status, 200)
  assert.equal(definitions.body.totalCount, v.definitions.length, `${what}: definitions totalCount`)
  assert.deepEqual(
    (definitions.body.definitions as Record<string, unknown>[]).map(definitionShape),
    v.definitions.map((d) => expectedDefinition(real, v, d)),
    `${what}: GetDefinitions`,
  )
  for (const [res, kind, plural] of [
    [actions, 'action', 'actions'],
    [triggers, 'trigger', 'triggers'],
  ] as const) {
    const want = v.operations.filter((o) => o.kind === kind)
    assert.equal(res.status, 200)
    assert.equal(res.body.totalCount, want.length, `${what}: ${plural} totalCount`)
    assert.deepEqual(
      (res.body[plural] as Record<string, unknown>[]).map((o) => operationShape(kind, o)),
      want.map((o) => expectedOperation(v, o)),
      `${what}: Get${plural}`,
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

type Cmd = fc.AsyncCommand<Model, Real>

const POOL = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'] as const
const poolName = fc.constantFrom(...POOL)
const reservedName = fc.mixedCase(fc.constantFrom('latest', 'default'))
const invalidName = fc.constantFrom('', '.', '..', 'a/b', 'bell\u0007', 'x'.repeat(129))
/**
 * A `{version}` path segment: mostly an existing version (picked by index when the command
 * runs, so most commands hit something), sometimes any pool name, sometimes an alias in any case.
 */
type Ref = string | { existing: number } | { draft: number }
const ref: fc.Arbitrary<Ref> = fc.oneof(
  { arbitrary: fc.nat(99).map((existing) => ({ existing })), weight: 10 },
  { arbitrary: poolName, weight: 1 },
  { arbitrary: reservedName, weight: 2 },
)
/** Where content commands go: mostly a draft (content can only change there), also any version or alias. */
const contentRef: fc.Arbitrary<Ref> = fc.oneof(
  { arbitrary: fc.nat(99).map((draft) => ({ draft })), weight: 8 },
  { arbitrary: ref, weight: 3 },
)

function refText(model: Model, r: Ref): string {
  if (typeof r === 'string') return r
  const all = [...model.versions.values()]
  let pick = all
  let index = 'draft' in r ? r.draft : r.existing
  if ('draft' in r) {
    // Two times in three a draft that has content (so content commands meet content), else any draft.
    const drafts = all.filter((v) => v.publishedAt === null)
    const filled = drafts.filter((v) => v.definitions.length + v.operations.length > 0)
    pick = r.draft % 3 !== 0 && filled.length > 0 ? filled : drafts.length > 0 ? drafts : all
    index = Math.floor(r.draft / 3)
  }
  const names = pick.map((v) => v.name)
  return names.length === 0 ? 'v1' : names[index % names.length]!
}

function showRef(r: Ref): string {
  return typeof r === 'string' ? JSON.stringify(r) : 'draft' in r ? `draft#${r.draft}` : `existing#${r.existing}`
}

const description = fc.constantFrom('first', 'second', '')

class CreateCmd implements Cmd {
  constructor(
    readonly name: string,
    readonly fromRef: Ref | undefined,
  ) {}
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const fromVersion = this.fromRef !== undefined ? refText(model, this.fromRef) : undefined
    const payload = { name: this.name, ...(fromVersion !== undefined ? { fromVersion } : {}) }
    const res = await t.request({ as: real.org, method: 'POST', url: versionsUrl(real), payload })
    const what = `${this.toString()} [fromVersion ${JSON.stringify(fromVersion)}]`
    const source = fromVersion !== undefined ? resolve(model, fromVersion) : undefined
    if (isReserved(this.name)) expectError(res, 400, 'reserved_version_name', what)
    else if (isInvalidName(this.name)) expectError(res, 400, 'invalid_version_name', what)
    else if (fromVersion !== undefined && !source) expectError(res, 400, 'unknown_version', what)
    else if (model.versions.has(this.name)) expectError(res, 409, 'version_name_conflict', what)
    else {
      assert.equal(res.status, 201, `${what}: ${JSON.stringify(res.body)}`)
      const created: ModelVersion = {
        id: res.body.id,
        name: this.name,
        description: source ? source.description : null,
        publishedAt: null,
        createdAt: res.body.createdAt,
        updatedAt: res.body.updatedAt,
        revision: 0,
        // fromVersion: a deep copy of the content; the copies then live their own lives.
        ...(source ? copyContent(source) : { definitions: [], operations: [] }),
      }
      model.versions.set(this.name, created)
      assert.deepEqual(withoutMessages(res.body), expectedDto(model, created), what)
      assert.deepEqual(severities(res.body), [], what)
      return assertAgrees(model, real, true, source ? [created, source] : [created])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `create(${JSON.stringify(this.name)}${this.fromRef !== undefined ? `, from ${showRef(this.fromRef)}` : ''})`
  }
}

/** How the read-only fields are sent: omitted, echoed with the stored values, or one of them changed. */
type ReadOnlyMode = 'omit' | 'echo' | 'wrong-id' | 'wrong-isLatest' | 'wrong-publishedAt' | 'wrong-updatedAt'

class UpdateCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    /** undefined keeps the current name. */
    readonly rename: string | undefined,
    /** 'keep' sends the current description; undefined omits it (clears it). */
    readonly description: string | undefined | 'keep',
    readonly isDefault: boolean | undefined,
    readonly readOnly: ReadOnlyMode,
  ) {}
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const what = `${this.toString()} [${path}]`
    const target = resolve(model, path)
    if (!target) {
      // The body does not matter when the path does not resolve.
      const res = await t.request({ as: real.org, method: 'PUT', url: versionUrl(real, path), payload: { name: 'whatever' } })
      expectError(res, 404, 'version_not_found', what)
      return assertAgrees(model, real, false)
    }
    const name = this.rename ?? target.name
    const description = this.description === 'keep' ? (target.description ?? undefined) : this.description
    const isLatest = latestOf(model)?.id === target.id
    const payload: Record<string, unknown> = {
      name,
      ...(description !== undefined ? { description } : {}),
      ...(this.isDefault !== undefined ? { isDefault: this.isDefault } : {}),
      messages: [{ text: 'ignored', severity: 'error' }],
    }
    if (this.readOnly !== 'omit') {
      Object.assign(payload, {
        id: target.id,
        createdAt: target.createdAt,
        updatedAt: target.updatedAt,
        publishedAt: target.publishedAt,
        isLatest,
      })
    }
    let wrongField: string | undefined
    switch (this.readOnly) {
      case 'wrong-id':
        payload.id = '01J9ZQ00000000000000000000'
        wrongField = 'id'
        break
      case 'wrong-isLatest':
        payload.isLatest = !isLatest
        wrongField = 'isLatest'
        break
      case 'wrong-publishedAt':
        payload.publishedAt = target.publishedAt === null ? '2020-01-01T00:00:00.000Z' : null
        wrongField = 'publishedAt'
        break
      case 'wrong-updatedAt':
        payload.updatedAt = '2020-01-01T00:00:00.000Z'
        wrongField = 'updatedAt'
        break
      default:
    }
    const res = await t.request({ as: real.org, method: 'PUT', url: versionUrl(real, path), payload })

    const published = target.publishedAt !== null
    const renamed = name !== target.name
    const newDescription = description ?? null
    const changesContent = renamed || newDescription !== target.description
    const pinned = model.pinnedId === target.id
    const isDefault = defaultOf(model)?.id === target.id

    if (wrongField) {
      expectError(res, 400, 'read_only_field', what)
      assert.deepEqual(res.body.fields.map((f: { field: string }) => f.field), [wrongField], what)
    } else if (renamed && isReserved(name)) expectError(res, 400, 'reserved_version_name', what)
    else if (renamed && isInvalidName(name)) expectError(res, 400, 'invalid_version_name', what)
    else if (published && changesContent) expectError(res, 409, 'version_published', what)
    else if (this.isDefault === true && !published) expectError(res, 400, 'default_requires_published', what)
    else if (renamed && model.versions.has(name)) expectError(res, 409, 'version_name_conflict', what)
    else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
      let expectedSeverities: string[] = []
      if (this.isDefault === true && !pinned) {
        model.pinnedId = target.id
        expectedSeverities = ['info']
      } else if (this.isDefault === false && pinned) {
        model.pinnedId = null
        expectedSeverities = ['info']
      } else if (this.isDefault === false && isDefault) {
        expectedSeverities = ['warning']
      }
      model.versions.delete(target.name)
      target.name = name
      target.description = newDescription
      model.versions.set(name, target)
      recordWrite(target, res.body)
      assert.deepEqual(withoutMessages(res.body), expectedDto(model, target), what)
      assert.deepEqual(severities(res.body), expectedSeverities, `${what}: message severities`)
      return assertAgrees(model, real, true, [target])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    const parts = [
      this.rename !== undefined ? `name=${JSON.stringify(this.rename)}` : undefined,
      this.description !== 'keep' ? `description=${JSON.stringify(this.description)}` : undefined,
      this.isDefault !== undefined ? `isDefault=${this.isDefault}` : undefined,
      this.readOnly !== 'omit' ? `readOnly=${this.readOnly}` : undefined,
    ].filter(Boolean)
    return `update(${showRef(this.ref)}${parts.length ? ', ' + parts.join(', ') : ''})`
  }
}

class PublishCmd implements Cmd {
  constructor(readonly ref: Ref) {}
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const what = `${this.toString()} [${path}]`
    const target = resolve(model, path)
    const res = await t.request({ as: real.org, method: 'POST', url: `${versionUrl(real, path)}/publish` })
    if (!target) expectError(res, 404, 'version_not_found', what)
    else if (target.publishedAt !== null) expectError(res, 409, 'version_already_published', what)
    else if (hasErrors(target)) {
      // Content with validation errors is refused, listing every error; warnings do not block.
      expectError(res, 400, 'version_invalid', what)
      const errors = issuesOf(target).filter((i) => i.severity === 'error')
      assert.deepEqual(
        String(res.body.details).split('\n').map((d) => d.slice(0, d.indexOf(': '))),
        errors.map(issueLine),
        `${what}: details`,
      )
      assert.deepEqual(
        (res.body.fields as { field: string }[]).map((f) => f.field),
        errors.map((i) => fieldPathOf(i)),
        `${what}: fields`,
      )
    } else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
      const body = res.body.version
      assert.equal(typeof body.publishedAt, 'string', `${what}: publishedAt set`)
      recordWrite(target, body)
      const expectedMessages: MessageShape[] = [
        ...(latestOf(model)?.id === target.id ? [{ severity: 'info', detail: [] }] : []),
        ...(model.pinnedId !== null ? [{ severity: 'info', detail: [] }] : []),
        // The content's warnings are reported (there are no errors, or it would have been refused).
        ...contentMessages(target),
      ]
      assert.deepEqual(withoutMessages(body), expectedDto(model, target), what)
      assert.deepEqual(messageShapes(body), expectedMessages, `${what}: messages`)
      return assertAgrees(model, real, true, [target])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `publish(${showRef(this.ref)})`
  }
}

class UnpublishCmd implements Cmd {
  constructor(readonly ref: Ref) {}
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const what = `${this.toString()} [${path}]`
    const target = resolve(model, path)
    const res = await t.request({ as: real.org, method: 'POST', url: `${versionUrl(real, path)}/unpublish` })
    if (!target) expectError(res, 404, 'version_not_found', what)
    else if (target.publishedAt === null) expectError(res, 409, 'version_not_published', what)
    else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
      const body = res.body.version
      assert.equal(body.publishedAt, null, `${what}: publishedAt cleared`)
      const wasPinned = model.pinnedId === target.id
      if (wasPinned) model.pinnedId = null
      recordWrite(target, body)
      assert.deepEqual(withoutMessages(body), expectedDto(model, target), what)
      assert.deepEqual(severities(body), wasPinned ? ['warning'] : [], `${what}: message severities`)
      return assertAgrees(model, real, true, [target])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `unpublish(${showRef(this.ref)})`
  }
}

class DeleteCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly force: boolean,
  ) {}
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const what = `${this.toString()} [${path}]`
    const target = resolve(model, path)
    const res = await t.request({ as: real.org, method: 'DELETE', url: `${versionUrl(real, path)}${this.force ? '?force=true' : ''}` })
    if (!target) expectError(res, 404, 'version_not_found', what)
    else if (target.publishedAt !== null && !this.force) expectError(res, 409, 'version_published', what)
    else {
      assert.equal(res.status, 204, `${what}: ${JSON.stringify(res.body)}`)
      assert.equal(res.raw.body, '', `${what}: empty body`)
      model.versions.delete(target.name)
      if (model.pinnedId === target.id) model.pinnedId = null
      const gone = await t.request({ as: real.org, method: 'GET', url: versionUrl(real, target.name) })
      expectError(gone, 404, 'version_not_found', `${what}: GET after delete`)
      return assertAgrees(model, real, true)
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `delete(${showRef(this.ref)}${this.force ? ', force' : ''})`
  }
}

// ---------------------------------------------------------------------------------------------
// Content commands: definitions, actions and triggers of a version

/**
 * A definition / action / trigger name, picked by index when the command runs: one the target
 * version has (`existing`), a definition something references (`referenced`: renames and
 * deletes of those are the interesting ones), one of the small pool the version does not have
 * (`fresh`), or any pool name.
 */
type NameRef = string | { existing: number } | { referenced: number } | { fresh: number }

function pickName(pool: readonly string[], own: string[], referenced: string[], r: NameRef): string {
  if (typeof r === 'string') return r
  if ('fresh' in r) {
    const fresh = pool.filter((n) => !own.includes(n))
    return (fresh.length > 0 ? fresh : pool)[r.fresh % (fresh.length > 0 ? fresh.length : pool.length)]!
  }
  const names = 'referenced' in r && referenced.length > 0 ? referenced : own.length > 0 ? own : pool
  return names[('existing' in r ? r.existing : r.referenced) % names.length]!
}

const definitionRefText = (v: ModelVersion | undefined, r: NameRef): string =>
  pickName(
    DEFINITIONS,
    v ? v.definitions.map((d) => d.name) : [],
    v ? v.definitions.filter((d) => referrersOf(v, d.name).length > 0).map((d) => d.name) : [],
    r,
  )

const operationRefText = (v: ModelVersion | undefined, kind: OpKind, r: NameRef): string =>
  pickName(OPERATIONS, v ? v.operations.filter((o) => o.kind === kind).map((o) => o.name) : [], [], r)

const showName = (r: NameRef): string =>
  typeof r === 'string' ? r : 'existing' in r ? `existing#${r.existing}` : 'referenced' in r ? `referenced#${r.referenced}` : `fresh#${r.fresh}`

/**
 * What every content write shares: 404 when the `{version}` resolves to nothing, 409
 * `version_published` when it is published (its content is immutable). True when the response
 * was one of those.
 */
function rejectedByVersion(res: TestResponse, target: ModelVersion | undefined, what: string): boolean {
  if (!target) {
    expectError(res, 404, 'version_not_found', what)
    return true
  }
  if (target.publishedAt !== null) {
    expectError(res, 409, 'version_published', what)
    return true
  }
  return false
}

/** Waits (rarely at all) until the clock is past the stamps a content write must move, so the move is observable. */
async function pastStamps(model: Model, target: ModelVersion | undefined): Promise<void> {
  const stamp = Math.max(Date.parse(model.connectorUpdatedAt), target ? Date.parse(target.updatedAt) : 0)
  while (Date.now() <= stamp + 1) await new Promise((resolve) => setTimeout(resolve, 1))
}

/** After a successful content change: the version's and the connector's updatedAt moved forward. */
async function recordContentChange(model: Model, real: Real, target: ModelVersion, what: string): Promise<void> {
  const [row, connector] = await Promise.all([
    t.db.kysely.selectFrom('connector_versions').select('updated_at').where('id', '=', target.id).executeTakeFirstOrThrow(),
    t.db.kysely.selectFrom('connectors').select('updated_at').where('id', '=', real.connectorId).executeTakeFirstOrThrow(),
  ])
  assert.ok(row.updated_at > target.updatedAt, `${what}: the version's updatedAt did not move (${target.updatedAt} -> ${row.updated_at})`)
  assert.ok(connector.updated_at > model.connectorUpdatedAt, `${what}: the connector's updatedAt did not move`)
  target.updatedAt = row.updated_at
  target.revision++
}

interface DefinitionSpec {
  name: string
  schema: SchemaKind
  accept: boolean
  ref: string | null
}

/** As generated: the reference is picked when the command runs. */
interface SchemaSpecArb {
  schema: SchemaKind
  ref: NameRef | 'self' | null
}

/** `self`: the definition references itself (by the name it has after the request). */
function schemaSpecText(v: ModelVersion | undefined, spec: SchemaSpecArb, self: string): Omit<DefinitionSpec, 'name' | 'accept'> {
  return { schema: spec.schema, ref: spec.ref === null ? null : spec.ref === 'self' ? self : definitionRefText(v, spec.ref) }
}

const showSchema = (spec: SchemaSpecArb): string =>
  `${spec.schema}${spec.ref === null ? '' : ` -> ${spec.ref === 'self' ? 'self' : showName(spec.ref)}`}`

function schemaContent(spec: Omit<DefinitionSpec, 'name' | 'accept'>): string {
  if (spec.schema === 'not-json') return '{ nope'
  return JSON.stringify({
    type: spec.schema === 'valid' ? 'object' : 'strin',
    ...(spec.ref !== null ? { properties: { ref: { $ref: `#/$defs/${spec.ref}` } } } : {}),
  })
}

const schemaBody = (spec: Omit<DefinitionSpec, 'name' | 'accept'>) => ({ contentType: 'application/schema+json', content: schemaContent(spec) })

function showSpec(spec: Omit<DefinitionSpec, 'name'> & { name?: string }): string {
  return `${spec.name ?? ''}[${spec.schema}${spec.accept ? '' : ', no accept'}${spec.ref !== null ? ` -> ${spec.ref}` : ''}]`
}

/** CreateDefinitions with one or two definitions, which may reference each other, others, themselves or nothing that exists. */
class CreateDefinitionsCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly arbSpecs: (SchemaSpecArb & { name: NameRef; accept: boolean })[],
  ) {}
  specs: DefinitionSpec[] = []
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.specs = this.arbSpecs.map((spec) => {
      const name = definitionRefText(target, spec.name)
      return { name, accept: spec.accept, ...schemaSpecText(target, spec, name) }
    })
    const what = `${this.toString()} [${path}: ${this.specs.map(showSpec).join(', ')}]`
    await pastStamps(model, target)
    const payload = {
      definitions: this.specs.map((spec) => ({ name: spec.name, accept: spec.accept ? ['application/json'] : [], schema: schemaBody(spec) })),
    }
    const res = await t.request({ as: real.org, method: 'POST', url: contentUrl(real, path, '/definitions'), payload })
    const twice = this.specs.findIndex((spec, i) => this.specs.findIndex((other) => other.name === spec.name) !== i)
    if (twice !== -1) {
      // Checked on the request itself, before the version is looked at.
      expectError(res, 409, 'definition_name_conflict', what)
      assert.equal(res.body.fields[0].field, `definitions[${twice}].name`, what)
    } else if (rejectedByVersion(res, target, what)) {
      // nothing changed
    } else {
      const v = target!
      const taken = this.specs.findIndex((spec) => definitionNames(v).has(spec.name))
      const after = new Set([...definitionNames(v), ...this.specs.map((spec) => spec.name)])
      if (taken !== -1) {
        expectError(res, 409, 'definition_name_conflict', what)
        assert.equal(res.body.fields[0].field, `definitions[${taken}].name`, what)
      } else if (this.specs.some((spec) => spec.ref !== null && !after.has(spec.ref))) {
        expectError(res, 400, 'unknown_definition', what)
      } else {
        assert.equal(res.status, 201, `${what}: ${JSON.stringify(res.body)}`)
        for (const spec of this.specs) v.definitions.push({ name: spec.name, schema: spec.schema, accept: spec.accept, ref: spec.ref })
        assert.deepEqual(
          (res.body.definitions as Record<string, unknown>[]).map(definitionShape),
          this.specs.map((spec) => expectedDefinition(real, v, v.definitions.find((d) => d.name === spec.name)!)),
          what,
        )
        await recordContentChange(model, real, v, what)
        return assertAgrees(model, real, true, [v])
      }
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `createDefinitions(${showRef(this.ref)}, ${this.arbSpecs.map((spec) => `${showName(spec.name)}[${showSchema(spec)}${spec.accept ? '' : ', no accept'}]`).join(', ')})`
  }
}

const FAKE_ID = '01J9ZQ00000000000000000000'

/** UpdateDefinition: the definition as read, maybe renamed, with another accept and maybe a new schema (omitted: kept). */
class UpdateDefinitionCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly nameRef: NameRef,
    readonly renameRef: NameRef | undefined,
    readonly accept: boolean,
    readonly schemaArb: SchemaSpecArb | undefined,
  ) {}
  name = ''
  rename: string | undefined
  schema: Omit<DefinitionSpec, 'name' | 'accept'> | undefined
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.name = definitionRefText(target, this.nameRef)
    this.rename = this.renameRef && definitionRefText(target, this.renameRef)
    this.schema = this.schemaArb && schemaSpecText(target, this.schemaArb, this.rename ?? this.name)
    const what =
      `${this.toString()} [${path}: ${this.name}${this.rename !== undefined ? ` as ${this.rename}` : ''}` +
      `${this.schema ? `, schema ${showSpec({ ...this.schema, accept: true })}` : ''}]`
    const existing = target?.definitions.find((d) => d.name === this.name)
    let current: Record<string, unknown> = { id: FAKE_ID, name: this.name, accept: [] }
    if (existing) {
      const read = await t.request({ as: real.org, method: 'GET', url: contentUrl(real, path, `/definitions/${this.name}`) })
      assert.equal(read.status, 200, `${what}: GET ${JSON.stringify(read.body)}`)
      current = read.body
    }
    await pastStamps(model, target)
    const newName = this.rename ?? this.name
    const payload = { ...current, name: newName, accept: this.accept ? ['application/json'] : [], ...(this.schema ? { schema: schemaBody(this.schema) } : {}) }
    const res = await t.request({ as: real.org, method: 'PUT', url: contentUrl(real, path, `/definitions/${this.name}`), payload })
    if (rejectedByVersion(res, target, what)) {
      // nothing changed
    } else if (!existing) {
      expectError(res, 404, 'definition_not_found', what)
    } else {
      const v = target!
      const before = definitionNames(v)
      const after = new Set([...before].filter((n) => n !== this.name).concat(newName))
      // The document's reference: a new schema's, else the stored one (which followed renames, and follows this one).
      const newRef = this.schema ? this.schema.ref : existing.ref === this.name ? newName : existing.ref
      // A reference must resolve, unless it already dangled (the client kept what it had).
      const refOk = newRef === null || after.has(newRef) || (existing.ref === newRef && !before.has(newRef))
      if (newName !== this.name && before.has(newName)) {
        expectError(res, 409, 'definition_name_conflict', what)
      } else if (!refOk) {
        expectError(res, 400, 'unknown_definition', what)
      } else {
        assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
        if (newName !== this.name) renameReferences(v, this.name, newName)
        existing.name = newName
        existing.accept = this.accept
        if (this.schema) {
          existing.schema = this.schema.schema
          existing.ref = this.schema.ref
        }
        assert.deepEqual(definitionShape(res.body), expectedDefinition(real, v, existing), what)
        await recordContentChange(model, real, v, what)
        return assertAgrees(model, real, true, [v])
      }
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return (
      `updateDefinition(${showRef(this.ref)}, ${showName(this.nameRef)}` +
      `${this.renameRef !== undefined ? ` as ${showName(this.renameRef)}` : ''}, ${this.accept ? 'accept' : 'no accept'}` +
      `${this.schemaArb ? `, schema ${showSchema(this.schemaArb)}` : ''})`
    )
  }
}

/** DeleteDefinition (one name) or DeleteDefinitions (names in the body), with or without force. */
class DeleteDefinitionsCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly nameRefs: NameRef[],
    readonly bulk: boolean,
    readonly force: boolean,
  ) {}
  names: string[] = []
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.names = this.nameRefs.map((r) => definitionRefText(target, r))
    const what = `${this.toString()} [${path}: ${this.names.join('+')}]`
    await pastStamps(model, target)
    const force = this.force ? '?force=true' : ''
    const res = this.bulk
      ? await t.request({ as: real.org, method: 'DELETE', url: contentUrl(real, path, `/definitions${force}`), payload: { names: this.names } })
      : await t.request({ as: real.org, method: 'DELETE', url: contentUrl(real, path, `/definitions/${this.names[0]}${force}`) })
    if (rejectedByVersion(res, target, what)) return assertAgrees(model, real, false)
    const v = target!
    const names = definitionNames(v)
    const twice = this.names.some((n, i) => this.names.indexOf(n) !== i && names.has(n))
    const missing = this.names.some((n) => !names.has(n))
    // What references each doomed definition, apart from the doomed definitions themselves.
    const blocked = this.names
      .map((name) => ({ name, referrers: referrersOf(v, name).filter((r) => !this.names.some((n) => r === `definition:${n}`)) }))
      .find((b) => b.referrers.length > 0)
    if (twice) expectError(res, 400, 'validation_failed', what)
    else if (missing) expectError(res, 404, 'definition_not_found', what)
    else if (blocked && !this.force) {
      expectError(res, 412, 'definition_referenced', what)
      assert.equal(res.body.definition.name, blocked.name, `${what}: the blocked definition`)
      assert.deepEqual(
        (res.body.definition.referencedBy as { type: string; name: string }[]).map((r) => `${r.type}:${r.name}`),
        blocked.referrers,
        `${what}: referencedBy`,
      )
    } else {
      assert.equal(res.status, 204, `${what}: ${JSON.stringify(res.body)}`)
      // Their own references go with them; references to them dangle (errors) until the name exists again.
      v.definitions = v.definitions.filter((d) => !this.names.includes(d.name))
      await recordContentChange(model, real, v, what)
      return assertAgrees(model, real, true, [v])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `deleteDefinitions(${showRef(this.ref)}, ${this.nameRefs.map(showName).join('+')}${this.bulk ? ', bulk' : ''}${this.force ? ', force' : ''})`
  }
}

const PLURAL = { action: 'actions', trigger: 'triggers' } as const

function operationBody(kind: OpKind, name: string, link: string | null): Record<string, unknown> {
  return kind === 'action' ? httpAction(name, link ?? undefined) : httpTrigger(name, link ?? undefined)
}

/** CreateAction / CreateTrigger linking a definition by name (or none: a warning). */
class CreateOperationCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly kind: OpKind,
    readonly nameRef: NameRef,
    readonly linkRef: NameRef | null,
  ) {}
  name = ''
  link: string | null = null
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.name = operationRefText(target, this.kind, this.nameRef)
    this.link = this.linkRef === null ? null : definitionRefText(target, this.linkRef)
    const what = `${this.toString()} [${path}: ${this.name} -> ${this.link}]`
    await pastStamps(model, target)
    const res = await t.request({
      as: real.org,
      method: 'POST',
      url: contentUrl(real, path, `/${PLURAL[this.kind]}`),
      payload: operationBody(this.kind, this.name, this.link),
    })
    if (rejectedByVersion(res, target, what)) return assertAgrees(model, real, false)
    const v = target!
    if (this.link !== null && !definitionNames(v).has(this.link)) expectError(res, 400, 'unknown_definition', what)
    else if (v.operations.some((o) => o.kind === this.kind && o.name === this.name)) expectError(res, 409, `${this.kind}_name_conflict`, what)
    else {
      assert.equal(res.status, 201, `${what}: ${JSON.stringify(res.body)}`)
      const created: ModelOperation = { kind: this.kind, name: this.name, link: this.link }
      v.operations.push(created)
      assert.deepEqual(operationShape(this.kind, res.body), expectedOperation(v, created), what)
      await recordContentChange(model, real, v, what)
      return assertAgrees(model, real, true, [v])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `create${this.kind === 'action' ? 'Action' : 'Trigger'}(${showRef(this.ref)}, ${showName(this.nameRef)}${this.linkRef !== null ? ` -> ${showName(this.linkRef)}` : ''})`
  }
}

/** UpdateAction / UpdateTrigger: the entity as read, maybe renamed, its link kept as read, re-pointed by name, or removed. */
class UpdateOperationCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly kind: OpKind,
    readonly nameRef: NameRef,
    readonly renameRef: NameRef | undefined,
    readonly linkRef: NameRef | null | 'keep',
  ) {}
  name = ''
  rename: string | undefined
  link: string | null | 'keep' = 'keep'
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.name = operationRefText(target, this.kind, this.nameRef)
    this.rename = this.renameRef && operationRefText(target, this.kind, this.renameRef)
    this.link = this.linkRef === null || this.linkRef === 'keep' ? this.linkRef : definitionRefText(target, this.linkRef)
    const what = `${this.toString()} [${path}: ${this.name}${this.rename !== undefined ? ` as ${this.rename}` : ''}, link ${this.link}]`
    const existing = target?.operations.find((o) => o.kind === this.kind && o.name === this.name)
    const url = contentUrl(real, path, `/${PLURAL[this.kind]}/${this.name}`)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let current: Record<string, any> = { ...operationBody(this.kind, this.name, null), id: FAKE_ID }
    if (existing) {
      const read = await t.request({ as: real.org, method: 'GET', url })
      assert.equal(read.status, 200, `${what}: GET ${JSON.stringify(read.body)}`)
      current = read.body
    }
    await pastStamps(model, target)
    const newName = this.rename ?? this.name
    const payload: Record<string, unknown> = { ...current, name: newName }
    if (this.link !== 'keep') {
      const definitions = this.link === null ? [] : [{ definition: { name: this.link } }]
      if (this.kind === 'action') payload.responses = [{ ...current.responses[0], definitions }]
      else payload.requestBody = { required: true, definitions }
    }
    const res = await t.request({ as: real.org, method: 'PUT', url, payload })
    if (rejectedByVersion(res, target, what)) return assertAgrees(model, real, false)
    const v = target!
    if (!existing) expectError(res, 404, `${this.kind}_not_found`, what)
    // A link by name must resolve, unless it is the one the entity has (kept dangling as the client sent it back).
    else if (this.link !== 'keep' && this.link !== null && !definitionNames(v).has(this.link) && existing.link !== this.link) {
      expectError(res, 400, 'unknown_definition', what)
    } else if (newName !== this.name && v.operations.some((o) => o.kind === this.kind && o.name === newName)) {
      expectError(res, 409, `${this.kind}_name_conflict`, what)
    } else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
      existing.name = newName
      if (this.link !== 'keep') existing.link = this.link
      assert.deepEqual(operationShape(this.kind, res.body), expectedOperation(v, existing), what)
      await recordContentChange(model, real, v, what)
      return assertAgrees(model, real, true, [v])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    const link = this.linkRef === 'keep' ? '' : this.linkRef === null ? ', unlink' : `, -> ${showName(this.linkRef)}`
    return `update${this.kind === 'action' ? 'Action' : 'Trigger'}(${showRef(this.ref)}, ${showName(this.nameRef)}${this.renameRef !== undefined ? ` as ${showName(this.renameRef)}` : ''}${link})`
  }
}

class DeleteOperationCmd implements Cmd {
  constructor(
    readonly ref: Ref,
    readonly kind: OpKind,
    readonly nameRef: NameRef,
  ) {}
  name = ''
  check(): boolean {
    return true
  }
  async run(model: Model, real: Real): Promise<void> {
    const path = refText(model, this.ref)
    const target = resolve(model, path)
    this.name = operationRefText(target, this.kind, this.nameRef)
    const what = `${this.toString()} [${path}: ${this.name}]`
    await pastStamps(model, target)
    const res = await t.request({ as: real.org, method: 'DELETE', url: contentUrl(real, path, `/${PLURAL[this.kind]}/${this.name}`) })
    if (rejectedByVersion(res, target, what)) return assertAgrees(model, real, false)
    const v = target!
    if (!v.operations.some((o) => o.kind === this.kind && o.name === this.name)) expectError(res, 404, `${this.kind}_not_found`, what)
    else {
      assert.equal(res.status, 204, `${what}: ${JSON.stringify(res.body)}`)
      v.operations = v.operations.filter((o) => !(o.kind === this.kind && o.name === this.name))
      await recordContentChange(model, real, v, what)
      return assertAgrees(model, real, true, [v])
    }
    return assertAgrees(model, real, false)
  }
  toString(): string {
    return `delete${this.kind === 'action' ? 'Action' : 'Trigger'}(${showRef(this.ref)}, ${showName(this.nameRef)})`
  }
}

const createArb = fc
  .record({
    // Mostly pool names (so duplicates happen), sometimes reserved (any case) or invalid names.
    name: fc.oneof({ arbitrary: poolName, weight: 8 }, { arbitrary: reservedName, weight: 1 }, { arbitrary: invalidName, weight: 1 }),
    // Sometimes a copy of another version (by name or alias).
    fromRef: fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: ref, weight: 1 }),
  })
  .map(({ name, fromRef }) => new CreateCmd(name, fromRef))

/** Rename / description / isDefault, with the read-only fields omitted, echoed or one of them wrong. */
const updateArb = fc
  .record({
    ref,
    rename: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      { arbitrary: poolName, weight: 4 },
      { arbitrary: reservedName, weight: 1 },
      { arbitrary: invalidName, weight: 1 },
    ),
    description: fc.oneof(
      { arbitrary: fc.constant<'keep'>('keep'), weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 1 },
      { arbitrary: description, weight: 2 },
    ),
    isDefault: fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: fc.boolean(), weight: 1 }),
    readOnly: fc.oneof(
      { arbitrary: fc.constantFrom<ReadOnlyMode>('omit', 'echo'), weight: 8 },
      { arbitrary: fc.constantFrom<ReadOnlyMode>('wrong-id', 'wrong-isLatest', 'wrong-publishedAt', 'wrong-updatedAt'), weight: 1 },
    ),
  })
  .map((r) => new UpdateCmd(r.ref, r.rename, r.description, r.isDefault, r.readOnly))

/** Set-default: PUT with the current name and description and isDefault true (pin) or false. */
const setDefaultArb = fc
  .record({ ref, isDefault: fc.boolean(), readOnly: fc.constantFrom<ReadOnlyMode>('omit', 'echo') })
  .map((r) => new UpdateCmd(r.ref, undefined, 'keep', r.isDefault, r.readOnly))

// Content: few names, so that names collide, references hit and deletes find referrers.
const DEFINITIONS = ['Item', 'Order', 'Price', 'Stock'] as const
const OPERATIONS = ['get', 'list', 'sync'] as const
const definitionName = fc.constantFrom(...DEFINITIONS)
const operationName = fc.constantFrom(...OPERATIONS)
const opKind = fc.constantFrom<OpKind>('action', 'trigger')
/** Mostly a name the target version has, sometimes any pool name. */
const nameRef = (pool: fc.Arbitrary<string>): fc.Arbitrary<NameRef> =>
  fc.oneof({ arbitrary: fc.nat(99).map((existing) => ({ existing })), weight: 4 }, { arbitrary: pool, weight: 1 })
/** A definition to change or delete: one the version has, often one something references, sometimes any pool name. */
const targetDefinition: fc.Arbitrary<NameRef> = fc.oneof(
  { arbitrary: fc.nat(99).map((existing) => ({ existing })), weight: 3 },
  { arbitrary: fc.nat(99).map((referenced) => ({ referenced })), weight: 3 },
  { arbitrary: definitionName, weight: 1 },
)
/** For new names: mostly one the target version does not have yet, sometimes any pool name. */
const newName = (pool: fc.Arbitrary<string>): fc.Arbitrary<NameRef> =>
  fc.oneof({ arbitrary: fc.nat(99).map((fresh) => ({ fresh })), weight: 3 }, { arbitrary: pool, weight: 1 })
const schemaKind = fc.oneof(
  { arbitrary: fc.constant<SchemaKind>('valid'), weight: 6 },
  { arbitrary: fc.constantFrom<SchemaKind>('invalid', 'not-json'), weight: 1 },
)
/** A schema document: valid or not, with a $ref to a definition (maybe itself, maybe one that does not exist) or none. */
const schemaSpec: fc.Arbitrary<SchemaSpecArb> = fc
  .record({
    schema: schemaKind,
    ref: fc.oneof(
      { arbitrary: fc.constant(null), weight: 4 },
      { arbitrary: nameRef(definitionName), weight: 3 },
      { arbitrary: fc.constant<'self'>('self'), weight: 1 },
    ),
  })
  .map((s) => (s.schema === 'not-json' ? { ...s, ref: null } : s))
const accept = fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 })

const createDefinitionsArb = fc
  .record({
    ref: contentRef,
    specs: fc.array(fc.record({ name: newName(definitionName), accept, spec: schemaSpec }).map((r) => ({ name: r.name, accept: r.accept, ...r.spec })), {
      minLength: 1,
      maxLength: 2,
    }),
  })
  .map((r): Cmd => new CreateDefinitionsCmd(r.ref, r.specs))
const updateDefinitionArb = fc
  .record({
    ref: contentRef,
    name: targetDefinition,
    rename: fc.option(newName(definitionName), { nil: undefined, freq: 2 }),
    accept,
    schema: fc.option(schemaSpec, { nil: undefined, freq: 2 }),
  })
  .map((r): Cmd => new UpdateDefinitionCmd(r.ref, r.name, r.rename, r.accept, r.schema))
const deleteDefinitionsArb = fc
  .record({ ref: contentRef, names: fc.array(targetDefinition, { minLength: 1, maxLength: 2 }), bulk: fc.boolean(), force: fc.boolean() })
  .map((r): Cmd => new DeleteDefinitionsCmd(r.ref, r.names, r.bulk || r.names.length > 1, r.force))
const createOperationArb = fc
  .record({ ref: contentRef, kind: opKind, name: newName(operationName), link: fc.option(nameRef(definitionName), { nil: null, freq: 4 }) })
  .map((r): Cmd => new CreateOperationCmd(r.ref, r.kind, r.name, r.link))
const updateOperationArb = fc
  .record({
    ref: contentRef,
    kind: opKind,
    name: nameRef(operationName),
    rename: fc.option(newName(operationName), { nil: undefined, freq: 3 }),
    link: fc.oneof(fc.constant<'keep'>('keep'), fc.constant(null), nameRef(definitionName)),
  })
  .map((r): Cmd => new UpdateOperationCmd(r.ref, r.kind, r.name, r.rename, r.link))
const deleteOperationArb = fc
  .record({ ref: contentRef, kind: opKind, name: nameRef(operationName) })
  .map((r): Cmd => new DeleteOperationCmd(r.ref, r.kind, r.name))

const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: createArb, weight: 5 },
  { arbitrary: updateArb, weight: 3 },
  { arbitrary: setDefaultArb, weight: 3 },
  { arbitrary: ref.map((r): Cmd => new PublishCmd(r)), weight: 5 },
  { arbitrary: ref.map((r): Cmd => new UnpublishCmd(r)), weight: 2 },
  { arbitrary: fc.record({ ref, force: fc.boolean() }).map((r): Cmd => new DeleteCmd(r.ref, r.force)), weight: 2 },
  { arbitrary: createDefinitionsArb, weight: 6 },
  { arbitrary: updateDefinitionArb, weight: 5 },
  { arbitrary: deleteDefinitionsArb, weight: 4 },
  { arbitrary: createOperationArb, weight: 5 },
  { arbitrary: updateOperationArb, weight: 3 },
  { arbitrary: deleteOperationArb, weight: 2 },
)

/**
 * A few drafts to start from, some with a description, and usually some content in the first:
 * Item, Order referencing Item, Price referencing itself, the action `get` linking Order and the
 * trigger `sync` linking Item. So runs do not spend their first commands on an empty connector.
 */
const seedVersions = fc
  .record({
    drafts: fc.uniqueArray(fc.tuple(poolName, fc.option(description, { nil: undefined, freq: 2 })), {
      minLength: 1,
      maxLength: 3,
      selector: ([name]) => name,
    }),
    content: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
  })
  .map(({ drafts, content }) => [
    ...drafts.flatMap(([name, text]): Cmd[] => [
      new CreateCmd(name, undefined),
      ...(text !== undefined ? [new UpdateCmd(name, undefined, text, undefined, 'omit')] : []),
    ]),
    ...(content
      ? [
          new CreateDefinitionsCmd(drafts[0]![0], [
            { name: 'Item', accept: true, schema: 'valid', ref: null },
            { name: 'Order', accept: true, schema: 'valid', ref: 'Item' },
            { name: 'Price', accept: true, schema: 'valid', ref: 'Price' },
          ]),
          new CreateOperationCmd(drafts[0]![0], 'action', 'get', 'Order'),
          new CreateOperationCmd(drafts[0]![0], 'trigger', 'sync', 'Item'),
        ]
      : []),
  ])

test('the API agrees with the in-memory model after every step of random version operations', async () => {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined
  const path = process.env.FC_PATH
  const numRuns = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 40
  await fc.assert(
    fc.asyncProperty(seedVersions, fc.commands([commandArb], { maxCommands: 40, size: 'max' }), async (seeded, cmds) => {
      const org = await t.newOrg('model run')
      const connector = await createConnector(t, {}, org)
      const stored = await t.db.kysely.selectFrom('connectors').select('updated_at').where('id', '=', connector.id).executeTakeFirstOrThrow()
      const model: Model = { versions: new Map(), pinnedId: null, connectorUpdatedAt: stored.updated_at, step: 0 }
      const real: Real = { org, connectorId: connector.id }
      await assertAgrees(model, real, false)
      for (const command of seeded) await command.run(model, real)
      await fc.asyncModelRun(() => ({ model, real }), cmds)
    }),
    // includeErrorInReport: the test runner does not print the error's cause, so put the failed assertion in the report.
    { numRuns, includeErrorInReport: true, ...(seed !== undefined ? { seed } : {}), ...(path !== undefined ? { path } : {}) },
  )
})
