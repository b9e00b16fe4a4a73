import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { buildTestApp, connectorBody, createConnector, createVersion, publish, type TestApp, type TestOrg } from '../helpers/app.ts'
import { createDefinitions, createOperation, httpAction, httpTrigger, jsonDefinition } from '../content/support.ts'

/**
 * Every operation of the served OpenAPI document, driven with arbitrary input: path segments
 * (the fixture's real ids and names, aliases, random text and bytes), query strings (declared
 * parameters with odd values, repeated, unknown ones), headers (validators, idempotency keys,
 * content types, encodings, credentials) and bodies (valid ones with one part mutated, arbitrary
 * JSON, broken JSON, other media types). Whatever arrives:
 * - never a 5xx (the harness fails on one), every error in the envelope, and every answer that
 *   names its operation checked against the OpenAPI documents (the harness again);
 * - a rejected request (4xx) leaves every stored row as it was, except the idempotency record
 *   that replays it (its first response is stored by design, see README).
 * Successful writes are allowed: they change the fixture, which is rebuilt when a run finds it
 * gone. Reproduce a failure with the seed and path fast-check prints: FC_SEED=<seed>
 * FC_PATH=<path>; FC_RUNS=<n> runs more (or fewer) than the default 300 requests; FUZZ_STATS=1
 * prints how often each operation got each answer (what the runs reach).
 */

interface Operation {
  id: string
  method: string
  path: string
  query: string[]
  body: unknown
}

/** The fixture's names; its connector's id changes when a run deletes it, so requests carry a token for it. */
const F = { published: 'v1', draft: 'v2', definition: 'Item', action: 'get-item', trigger: 'on-item', subscriber: 'crm' }
const CONNECTOR = '@connector@'

let t: TestApp
let stranger: TestOrg
let operations: Operation[]
let connectorId: string | undefined

/** Tables a rejected request may change: the idempotency record of a keyed request stores its answer. */
const MAY_CHANGE_ON_REJECTION = new Set(['idempotency_keys'])

before(async () => {
  t = await buildTestApp()
  stranger = await t.newOrg('stranger')
  operations = operationsOf(t.app.swagger() as unknown as OpenApi)
})
after(() => t.close())

interface OpenApi {
  paths: Record<string, Record<string, { operationId?: string; parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }>>
  components?: { schemas?: Record<string, Schema> }
}
interface Schema {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  enum?: unknown[]
  const?: unknown
  format?: string
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  minItems?: number
  minLength?: number
}

function operationsOf(doc: OpenApi): Operation[] {
  const result: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op.operationId) continue
      const schema = op.requestBody?.content?.['application/json']?.schema
      result.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        body: schema ? exampleOf(schema, doc, 0) : undefined,
      })
    }
  }
  assert.ok(result.length >= 30, `only ${result.length} operations in the served document`)
  return result
}

/** A minimal instance of a schema: required properties only, first enum value, one item where one is required. */
function exampleOf(schema: Schema, doc: OpenApi, depth: number): unknown {
  if (depth > 8) return null
  if (schema.$ref) return exampleOf(doc.components!.schemas![schema.$ref.split('/').at(-1)!]!, doc, depth + 1)
  if (schema.const !== undefined) return schema.const
  if (schema.enum) return schema.enum[0]
  const alternative = schema.anyOf?.[0] ?? schema.oneOf?.[0]
  if (alternative) return exampleOf(alternative, doc, depth + 1)
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => exampleOf(s, doc, depth + 1)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const name of schema.required ?? []) out[name] = exampleOf(schema.properties?.[name] ?? {}, doc, depth + 1)
      return out
    }
    case 'array':
      return schema.minItems && schema.items ? [exampleOf(schema.items, doc, depth + 1)] : []
    case 'string':
      if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z'
      if (schema.format === 'ulid') return '01J9ZQ0000000000000000KEY1'
      if (schema.format === 'uri') return 'https://example.com/'
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    case 'integer':
    case 'number':
      return 1
    case 'boolean':
      return true
    default:
      return null
  }
}

/** A connector with a published version and a draft, each with a definition, an action and a trigger, and a subscription. */
async function freshFixture(): Promise<string> {
  const connector = await createConnector(t, { name: 'Fuzzed', tags: { env: ['prod'] }, categories: ['crm'] })
  const c = connector.id as string
  for (const version of [F.published, F.draft]) {
    await createVersion(t, c, version)
    await createDefinitions(t, c, version, [jsonDefinition(F.definition, { type: 'object', properties: { id: { type: 'string' } } })])
    await createOperation(t, c, version, 'actions', httpAction(F.action, F.definition))
    await createOperation(t, c, version, 'triggers', httpTrigger(F.trigger, F.definition))
  }
  await publish(t, c, F.published)
  const subscribed = await t.request({ method: 'PUT', url: `/o/${t.org.id}/connectors/${c}/subscriptions/${F.subscriber}`, payload: { version: F.published } })
  assert.equal(subscribed.status, 201, JSON.stringify(subscribed.body))
  return c
}

/** The fixture's connector id, rebuilt when an earlier run deleted or renamed a part of it. */
async function currentFixture(): Promise<string> {
  if (connectorId && (await fixtureIsWhole(connectorId))) return connectorId
  connectorId = await freshFixture()
  return connectorId
}

async function fixtureIsWhole(c: string): Promise<boolean> {
  const k = t.db.kysely
  const versions = await k.selectFrom('connector_versions').select(['id', 'name', 'published_at']).where('connector_id', '=', c).execute()
  const draft = versions.find((v) => v.name === F.draft && v.published_at === null)
  if (!draft || !versions.some((v) => v.name === F.published && v.published_at !== null)) return false
  const named = async (table: 'connector_actions' | 'connector_triggers' | 'connector_definitions', name: string) =>
    (await k.selectFrom(table).select('id').where('version_id', '=', draft.id).where('name', '=', name).executeTakeFirst()) !== undefined
  return (await named('connector_actions', F.action)) && (await named('connector_triggers', F.trigger)) && (await named('connector_definitions', F.definition))
}

/** Every row of every table but the ones a rejection may change, in a stable order. */
async function storedRows(): Promise<Record<string, string[]>> {
  const tables = await t.db.kysely.introspection.getTables()
  const out: Record<string, string[]> = {}
  for (const table of tables) {
    if (MAY_CHANGE_ON_REJECTION.has(table.name) || table.name.startsWith('kysely_')) continue
    const rows = await t.db.kysely.selectFrom(table.name as never).selectAll().execute()
    out[table.name] = rows.map((r) => JSON.stringify(r)).sort()
  }
  return out
}

// --- arbitraries -------------------------------------------------------------------------

const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', 'latest', 'default', 'LATEST', '..', '.', '%', '%00', '\u0000', 'null', '-1', '0', '1e309', 'NaN', '[]', '{}', 'a'.repeat(129), 'é'.repeat(300)),
  fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
)

/** Any JSON, and the values that tend to find edges: huge, negative, empty, deep. */
const oddJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 4, arbitrary: fc.constantFrom(null, '', -1, 0, 1.5, 2 ** 53, 1e308, -1e308, true, [], {}, 'x'.repeat(70_000)) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('['.repeat(200) + ']'.repeat(200)) as unknown) },
)

type Mutation = { path: number[]; kind: 'replace' | 'delete' | 'add' | 'keep'; key: string; value: unknown }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.array(fc.nat(8), { maxLength: 4 }),
  kind: fc.constantFrom('replace', 'delete', 'add', 'keep', 'keep', 'keep'),
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('id', 'name', 'createdAt', 'updatedAt', 'isLatest', '__proto__', 'constructor')),
  value: oddJson,
})

/** `body` with one node (reached by walking `path` through its containers) replaced, deleted or given a sibling. */
function mutate(body: unknown, m: Mutation): unknown {
  if (m.kind === 'keep') return body
  const copy = structuredClone(body) as unknown
  let parent: Record<string, unknown> | unknown[] | undefined
  let slot: string | number | undefined
  let node: unknown = copy
  for (const step of m.path) {
    if (Array.isArray(node) && node.length > 0) {
      parent = node
      slot = step % node.length
    } else if (node !== null && typeof node === 'object' && Object.keys(node).length > 0) {
      const keys = Object.keys(node)
      parent = node as Record<string, unknown>
      slot = keys[step % keys.length]!
    } else break
    node = (parent as Record<string | number, unknown>)[slot]
  }
  if (m.kind === 'add') {
    if (Array.isArray(node)) node.push(m.value)
    else if (node !== null && typeof node === 'object') Object.defineProperty(node, m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
    else return m.value
    return copy
  }
  if (parent === undefined || slot === undefined) return m.kind === 'replace' ? m.value : undefined
  if (m.kind === 'replace') (parent as Record<string | number, unknown>)[slot] = m.value
  else if (Array.isArray(parent)) parent.splice(slot as number, 1)
  else delete parent[slot as string]
  return copy
}

/** Valid bodies for the operations whose minimal example is not, to start mutations from. */
function validBodyOf(op: Operation): unknown {
  switch (op.id) {
    case 'CreateHTTPConnector':
      return connectorBody({ name: 'Fuzzed', tags: { team: ['a'] } })
    case 'UpdateConnector':
      return {
        ...connectorBody({ name: 'Fuzzed again', tags: { team: ['b'] } }),
        id: CONNECTOR,
        organisationId: t.org.id,
        public: false,
        protocol: 'http',
        connections: [],
        versions: [],
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      }
    case 'CreateConnectorVersion':
      return { name: 'v3', description: 'made by the fuzzer', fromVersion: F.published }
    case 'UpdateConnectorVersion':
      return { name: F.draft, description: 'changed' }
    case 'CreateDefinitions':
      return { definitions: [jsonDefinition('Other', { type: 'string' })] }
    case 'UpdateDefinition':
      return jsonDefinition(F.definition, { type: 'object' })
    case 'CreateAction':
      return httpAction('other-action', F.definition)
    case 'UpdateAction':
      return httpAction(F.action, F.definition)
    case 'CreateTrigger':
      return httpTrigger('other-trigger', F.definition)
    case 'UpdateTrigger':
      return httpTrigger(F.trigger, F.definition)
    case 'PutConnectorSubscription':
      return { version: F.published }
    default:
      return op.body
  }
}

/** Values for a path parameter: mostly real ones of the fixture, so requests reach deep. */
function paramValue(name: string): fc.Arbitrary<string> {
  const real: Record<string, string[]> = {
    organisation_id: [t.org.id, t.org.id, t.org.id, stranger.id],
    connector_id: [CONNECTOR, CONNECTOR, CONNECTOR],
    version: [F.draft, F.draft, F.published, 'latest', 'default'],
    action_name: [F.action],
    trigger_name: [F.trigger],
    definition_name: [F.definition],
    schema_filename: [`${F.definition}.json`, F.definition],
    subscriber: [F.subscriber],
  }
  const known = real[name]
  const odd = oddText.map((s) => encodeURIComponent(s))
  return known ? fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: odd }) : odd
}

const queryValue = fc.oneof(
  fc.constantFrom('1', '5', '100', '101', '0', '-1', '1.5', '1e3', '', 'abc', 'name:asc', 'updatedAt:desc', 'name:up', 'env:prod', 'env', ':x', 'crm', 'http'),
  oddText,
)

const headerValue = fc.oneof(fc.constantFrom('*', '"abc"', 'W/"abc"', '""', '"', ',,', 'gzip', 'br;q=1, gzip;q=0', 'identity;q=0'), fc.string({ maxLength: 60 }))

/**
 * A generated request. A JSON body is built when it is sent: from the resource as it then is (a PUT
 * whose path also answers GET, as clients do: read, change, write back) or from a template, with one
 * mutation applied.
 */
interface Sent {
  op: Operation
  url: string
  headers: Record<string, string>
  body: { kind: 'json'; fromCurrent: boolean; mutation: Mutation } | { kind: 'value'; value: unknown } | { kind: 'raw'; text: string; type: string } | { kind: 'none' }
  as: TestOrg | null
}

const READABLE_PUTS = new Set(['UpdateConnector', 'UpdateConnectorVersion', 'UpdateAction', 'UpdateTrigger', 'UpdateDefinition'])

async function payloadOf(sent: Sent, url: string, connectorId: string): Promise<{ payload?: string; type?: string }> {
  const json = (value: unknown) => (value === undefined ? {} : { payload: JSON.stringify(value).replaceAll(CONNECTOR, connectorId), type: 'application/json' })
  switch (sent.body.kind) {
    case 'none':
      return {}
    case 'raw':
      return { payload: sent.body.text, type: sent.body.type }
    case 'value':
      return json(sent.body.value)
    case 'json': {
      let base = validBodyOf(sent.op)
      if (sent.body.fromCurrent && READABLE_PUTS.has(sent.op.id)) {
        const current = await t.request({ method: 'GET', url })
        if (current.status === 200) base = current.body
      }
      return json(mutate(base, sent.body.mutation))
    }
  }
}

function requestOf(): fc.Arbitrary<Sent> {
  return fc.constantFrom(...operations).chain((op) => {
    const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)
    return fc
      .record({
        params: fc.tuple(...names.map((n) => paramValue(n))),
        query: fc.oneof(
          { weight: 3, arbitrary: fc.constant<[string, string][]>([]) },
          { weight: 1, arbitrary: fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: op.query.length ? fc.constantFrom(...op.query) : fc.constant('first') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), queryValue), { minLength: 1, maxLength: 4 }) },
        ),
        withFirst: fc.boolean(),
        headers: fc.oneof(
          { weight: 3, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('if-match', 'if-none-match', 'idempotency-key', 'accept-encoding', 'accept'), headerValue, { minKeys: 1, maxKeys: 3 }) },
        ),
        body: fc.oneof(
          { weight: 12, arbitrary: fc.record({ kind: fc.constant('json' as const), fromCurrent: fc.boolean(), mutation }) },
          { weight: 2, arbitrary: oddJson.map((value) => ({ kind: 'value' as const, value })) },
          { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((text) => ({ kind: 'raw' as const, text, type: 'application/json' })) },
          { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 60 }), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/xml', 'application/merge-patch+json')).map(([text, type]) => ({ kind: 'raw' as const, text, type })) },
          { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
        ),
        as: fc.oneof({ weight: 12, arbitrary: fc.constant(t.org) }, { weight: 1, arbitrary: fc.constantFrom<TestOrg | null | 'garbage'>(stranger, null, 'garbage') }),
      })
      .map(({ params, query, withFirst, headers, body, as }) => {
        let i = 0
        const path = op.path.replace(/\{\w+\}/g, () => params[i++]!)
        const search = new URLSearchParams(query)
        if ((withFirst || query.length === 0) && op.query.includes('first') && !search.has('first')) search.set('first', '5')
        const qs = search.toString()
        const sent: Sent = { op, url: qs ? `${path}?${qs}` : path, headers: { ...headers }, body, as: as === 'garbage' ? null : as }
        if (as === 'garbage') sent.headers.authorization = 'Bearer crk_not_a_key'
        return sent
      })
  })
}

test('no input makes the API fail, answer outside its envelope, or change stored data on a rejection', async () => {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined
  const path = process.env.FC_PATH
  const numRuns = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 300
  const statuses = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(requestOf(), async (sent) => {
      const c = await currentFixture()
      const url = sent.url.replaceAll(CONNECTOR, c)
      const { payload, type } = await payloadOf(sent, url.split('?')[0]!, c)
      const headers = type ? { ...sent.headers, 'content-type': type } : sent.headers
      const before = await storedRows()
      const res = await t.request({ method: sent.op.method as never, url, headers, as: sent.as, ...(payload !== undefined ? { payload } : {}) })
      const key = `${sent.op.id} ${res.status}${res.status >= 400 ? ` ${String(res.body?.code)}` : ''}`
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      if (res.status >= 400) assert.deepEqual(await storedRows(), before, `${sent.op.id} answered ${res.status} (${JSON.stringify(res.body)}) and changed stored data`)
    }),
    { numRuns, includeErrorInReport: true, ...(seed !== undefined ? { seed } : {}), ...(path !== undefined ? { path } : {}) },
  )
  if (process.env.FUZZ_STATS) console.log([...statuses].sort().map(([k, n]) => `${k}: ${n}`).join('\n'))
  // The runs must reach past routing and validation, or the property says little.
  const succeeded = [...statuses].filter(([k]) => /\s2\d\d$/.test(k)).reduce((n, [, c]) => n + c, 0)
  assert.ok(succeeded >= numRuns / 20, `only ${succeeded} of ${numRuns} requests succeeded`)
})
