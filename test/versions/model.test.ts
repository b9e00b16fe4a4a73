import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { buildTestApp, createConnector, type TestApp, type TestOrg } from '../helpers/app.ts'

/**
 * Model-based test of the version rules: random sequences of create / update / set-default /
 * publish / unpublish / delete against ONE connector through the HTTP API, mirrored on an
 * in-memory model. After every step the API (statuses, error codes, response bodies, the
 * `latest` and `default` aliases, the version list with its flags and order, the versions
 * embedded in GetConnector) and the stored rows (`connector_versions`, the pin in
 * `connector_defaults`, the connector's updatedAt) must agree with the model exactly.
 *
 * The model records the ids and timestamps the API hands back (it cannot predict the database
 * clock), and derives latest from (publishedAt, id) exactly as the rules say, so two publishes
 * landing in the same millisecond cannot make it diverge.
 *
 * Each run uses a fresh organisation (its own API key, so its own rate-limit budget) and a
 * fresh connector, starts with one to three drafts and then runs up to 30 random commands.
 * Reproduce a failure with the seed/path fast-check prints: FC_SEED=<seed> FC_PATH=<path>;
 * FC_RUNS=<n> runs more (or fewer) than the default 25 sequences.
 */

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
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
 * connector updatedAt) are compared after every step. The API reads are pure functions of
 * those rows, so after a rejected request (`changed` false: the rows are asserted unchanged)
 * re-reading them through the API would repeat the previous step's check; they are read
 * again after every successful change.
 */
async function assertAgrees(model: Model, real: Real, changed: boolean): Promise<void> {
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
    } else {
      expectError(res, 404, 'version_not_found', `GET ${as}`)
    }
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
type Ref = string | { existing: number }
const ref: fc.Arbitrary<Ref> = fc.oneof(
  { arbitrary: fc.nat(99).map((existing) => ({ existing })), weight: 10 },
  { arbitrary: poolName, weight: 1 },
  { arbitrary: reservedName, weight: 2 },
)

function refText(model: Model, r: Ref): string {
  if (typeof r === 'string') return r
  const names = [...model.versions.keys()]
  return names.length === 0 ? 'v1' : names[r.existing % names.length]!
}

function showRef(r: Ref): string {
  return typeof r === 'string' ? JSON.stringify(r) : `existing#${r.existing}`
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
      }
      model.versions.set(this.name, created)
      assert.deepEqual(withoutMessages(res.body), expectedDto(model, created), what)
      assert.deepEqual(severities(res.body), [], what)
      return assertAgrees(model, real, true)
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
      return assertAgrees(model, real, true)
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
    else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`)
      const body = res.body.version
      assert.equal(typeof body.publishedAt, 'string', `${what}: publishedAt set`)
      recordWrite(target, body)
      const expectedSeverities = [
        ...(latestOf(model)?.id === target.id ? ['info'] : []),
        ...(model.pinnedId !== null ? ['info'] : []),
      ]
      assert.deepEqual(withoutMessages(body), expectedDto(model, target), what)
      assert.deepEqual(severities(body), expectedSeverities, `${what}: message severities`)
      return assertAgrees(model, real, true)
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
      return assertAgrees(model, real, true)
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

const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: createArb, weight: 5 },
  { arbitrary: updateArb, weight: 3 },
  { arbitrary: setDefaultArb, weight: 3 },
  { arbitrary: ref.map((r): Cmd => new PublishCmd(r)), weight: 5 },
  { arbitrary: ref.map((r): Cmd => new UnpublishCmd(r)), weight: 2 },
  { arbitrary: fc.record({ ref, force: fc.boolean() }).map((r): Cmd => new DeleteCmd(r.ref, r.force)), weight: 2 },
)

/**
 * A few drafts to start from, some with a description, so runs do not spend their first
 * commands on an empty connector.
 */
const seedVersions = fc
  .uniqueArray(fc.tuple(poolName, fc.option(description, { nil: undefined, freq: 2 })), {
    minLength: 1,
    maxLength: 3,
    selector: ([name]) => name,
  })
  .map((drafts) =>
    drafts.flatMap(([name, text]): Cmd[] => [
      new CreateCmd(name, undefined),
      ...(text !== undefined ? [new UpdateCmd(name, undefined, text, undefined, 'omit')] : []),
    ]),
  )

test('the API agrees with the in-memory model after every step of random version operations', async () => {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined
  const path = process.env.FC_PATH
  const numRuns = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 25
  await fc.assert(
    fc.asyncProperty(seedVersions, fc.commands([commandArb], { maxCommands: 30, size: 'max' }), async (seeded, cmds) => {
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
