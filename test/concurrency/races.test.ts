import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { buildTestApp, createConnector, type TestApp } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'
import {
  checkConnectorInvariants,
  checkNoOrphans,
  clientKeys,
  injectApi,
  intBetween,
  pick,
  seededRandom,
  sleep,
  testSeed,
  versionsPath,
  type Api,
  type ApiResponse,
} from './support.ts'

/**
 * Race tests (issue 4): 50 rounds, each firing 2-8 concurrent writes at one connector, then
 * checking the invariants in the database and through the API. On SQLite the requests
 * interleave on one connection; on PostgreSQL they run in parallel through the pool.
 * Replay a failure with RACE_SEED=<seed printed by the run>.
 */

let t: TestApp
let api: Api

before(async () => {
  t = await buildTestApp()
  // Requests rotate over several keys of the organisation, like several clients would.
  const keys = await clientKeys(t, 4)
  let next = 0
  api = injectApi(t, () => keys[next++ % keys.length]!)
})
after(async () => {
  await t.close()
})

type Kind = 'publish' | 'setDefault' | 'renameSame' | 'renameDifferent' | 'renameChain' | 'create' | 'unpublishVsPin' | 'deleteVsPin'
const KINDS: Kind[] = ['publish', 'setDefault', 'renameSame', 'renameDifferent', 'renameChain', 'create', 'unpublishVsPin', 'deleteVsPin']
/** Kinds whose operations come in a fixed pair; the others take any number of operations. */
const PAIRS: ReadonlySet<Kind> = new Set(['renameChain', 'unpublishVsPin', 'deleteVsPin'])

interface Row {
  id: string
  name: string
  description: string | null
  published_at: string | null
}

interface Group {
  kind: Kind
  ops: (() => Promise<ApiResponse>)[]
  /** Checks the responses of this group's operations (in `ops` order) and the stored state. */
  verify(responses: ApiResponse[], context: RoundContext): Promise<void>
}

interface RoundContext {
  connectorId: string
  kinds: ReadonlySet<Kind>
}

let nameCounter = 0
const freshName = (prefix: string): string => `${prefix}-${(nameCounter++).toString().padStart(4, '0')}`

async function rows(connectorId: string): Promise<Row[]> {
  return t.db.kysely
    .selectFrom('connector_versions')
    .select(['id', 'name', 'description', 'published_at'])
    .where('connector_id', '=', connectorId)
    .orderBy('id')
    .execute()
}

async function rowById(id: string): Promise<Row | undefined> {
  return t.db.kysely.selectFrom('connector_versions').select(['id', 'name', 'description', 'published_at']).where('id', '=', id).executeTakeFirst()
}

async function pinnedId(connectorId: string): Promise<string | undefined> {
  const row = await t.db.kysely.selectFrom('connector_defaults').select('version_id').where('connector_id', '=', connectorId).executeTakeFirst()
  return row?.version_id
}

/** A draft with a description, created (and optionally published) sequentially before the race. */
async function setupVersion(connectorId: string, published: boolean): Promise<Row> {
  const name = freshName(published ? 'pub' : 'draft')
  const created = await api({ method: 'POST', url: versionsPath(t.org.id, connectorId), payload: { name } })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const described = await api({ method: 'PUT', url: versionsPath(t.org.id, connectorId, name), payload: { name, description: `about ${name}` } })
  assert.equal(described.status, 200, JSON.stringify(described.body))
  if (published) {
    const res = await api({ method: 'POST', url: `${versionsPath(t.org.id, connectorId, name)}/publish` })
    assert.equal(res.status, 200, JSON.stringify(res.body))
  }
  const row = await rowById(created.body.id)
  assert.ok(row)
  return row
}

function putDefault(connectorId: string, version: Row): () => Promise<ApiResponse> {
  return () =>
    api({
      method: 'PUT',
      url: versionsPath(t.org.id, connectorId, version.name),
      payload: { name: version.name, ...(version.description !== null ? { description: version.description } : {}), isDefault: true },
    })
}

function rename(connectorId: string, version: Row, to: string): () => Promise<ApiResponse> {
  return () =>
    api({
      method: 'PUT',
      url: versionsPath(t.org.id, connectorId, version.name),
      payload: { name: to, ...(version.description !== null ? { description: version.description } : {}) },
    })
}

function statusesOf(responses: ApiResponse[]): string {
  return JSON.stringify(responses.map((r) => [r.status, r.body?.code ?? r.body?.name ?? r.body?.version?.name]))
}

function assertError(res: ApiResponse, allowed: [number, string][], what: string): void {
  assert.ok(
    allowed.some(([status, code]) => res.status === status && res.body?.code === code),
    `${what}: expected one of ${JSON.stringify(allowed)}, got ${res.status} ${JSON.stringify(res.body)}`,
  )
}

/** Exactly one response with `winStatus`; every other one is one of the allowed errors. */
function oneWinner(responses: ApiResponse[], winStatus: number, losers: [number, string][], what: string): number {
  const winners = responses.flatMap((r, i) => (r.status === winStatus ? [i] : []))
  assert.equal(winners.length, 1, `${what}: exactly one winner expected, got ${statusesOf(responses)}`)
  responses.forEach((r, i) => {
    if (i !== winners[0]) assertError(r, losers, what)
  })
  return winners[0]!
}

async function buildGroup(kind: Kind, size: number, connectorId: string, random: () => number): Promise<Group> {
  switch (kind) {
    case 'publish': {
      const draft = await setupVersion(connectorId, false)
      return {
        kind,
        ops: Array.from({ length: size }, () => () => api({ method: 'POST', url: `${versionsPath(t.org.id, connectorId, draft.name)}/publish` })),
        async verify(responses) {
          const winner = oneWinner(responses, 200, [[409, 'version_already_published']], `${size} publishes of ${draft.name}`)
          assert.equal(responses[winner]!.body.version.id, draft.id)
          const row = await rowById(draft.id)
          assert.equal(row?.published_at, responses[winner]!.body.version.publishedAt, 'publishedAt as acknowledged')
        },
      }
    }
    case 'setDefault': {
      // Distinct published versions: reuse existing ones, create more when there are too few.
      const published = (await rows(connectorId)).filter((r) => r.published_at !== null)
      const targets: Row[] = []
      while (targets.length < size && published.length > 0) targets.push(published.splice(Math.floor(random() * published.length), 1)[0]!)
      while (targets.length < size) targets.push(await setupVersion(connectorId, true))
      return {
        kind,
        ops: targets.map((v) => putDefault(connectorId, v)),
        async verify(responses, context) {
          responses.forEach((r, i) => {
            assert.equal(r.status, 200, `set-default of ${targets[i]!.name}: ${JSON.stringify(r.body)}`)
            assert.equal(r.body.isDefault, true)
          })
          const pin = await pinnedId(connectorId)
          const candidates = new Set(targets.map((v) => v.id))
          // Another group's pin may have been the last to commit (and then unpublished/deleted away).
          const others = context.kinds.has('unpublishVsPin') || context.kinds.has('deleteVsPin')
          assert.ok(
            (pin !== undefined && candidates.has(pin)) || others,
            `the pinned default ${pin} must be one of the concurrently pinned versions ${[...candidates].join(', ')}`,
          )
        },
      }
    }
    case 'renameSame': {
      const draft = await setupVersion(connectorId, false)
      const to = freshName('same')
      return {
        kind,
        ops: Array.from({ length: size }, () => rename(connectorId, draft, to)),
        async verify(responses) {
          const winner = oneWinner(
            responses,
            200,
            [[404, 'version_not_found'], [409, 'version_name_conflict']],
            `${size} renames of ${draft.name} to ${to}`,
          )
          assert.equal(responses[winner]!.body.id, draft.id)
          const row = await rowById(draft.id)
          assert.equal(row?.name, to)
          assert.equal(row?.description, draft.description)
        },
      }
    }
    case 'renameDifferent': {
      const draft = await setupVersion(connectorId, false)
      const targets = Array.from({ length: size }, () => freshName('diff'))
      return {
        kind,
        ops: targets.map((to) => rename(connectorId, draft, to)),
        async verify(responses) {
          const winner = oneWinner(responses, 200, [[404, 'version_not_found']], `${size} renames of ${draft.name} to different names`)
          const all = await rows(connectorId)
          assert.equal(all.find((r) => r.id === draft.id)?.name, targets[winner])
          for (const [i, name] of targets.entries()) {
            if (i !== winner) assert.equal(all.find((r) => r.name === name), undefined, `losing rename target ${name} exists`)
          }
        },
      }
    }
    case 'renameChain': {
      // A → B's name while B → a fresh name: A wins only when B moved out first.
      const a = await setupVersion(connectorId, false)
      const b = await setupVersion(connectorId, false)
      const to = freshName('chain')
      return {
        kind,
        ops: [rename(connectorId, a, b.name), rename(connectorId, b, to)],
        async verify([aRes, bRes]) {
          assert.equal(bRes!.status, 200, `rename ${b.name} → ${to}: ${JSON.stringify(bRes!.body)}`)
          const all = await rows(connectorId)
          assert.equal(all.find((r) => r.id === b.id)?.name, to)
          if (aRes!.status === 200) {
            assert.equal(all.find((r) => r.id === a.id)?.name, b.name)
          } else {
            assertError(aRes!, [[409, 'version_name_conflict']], `rename ${a.name} → ${b.name}`)
            assert.equal(all.find((r) => r.id === a.id)?.name, a.name)
            assert.equal(all.find((r) => r.name === b.name), undefined)
          }
        },
      }
    }
    case 'create': {
      const name = freshName('new')
      return {
        kind,
        ops: Array.from({ length: size }, () => () => api({ method: 'POST', url: versionsPath(t.org.id, connectorId), payload: { name } })),
        async verify(responses) {
          const winner = oneWinner(responses, 201, [[409, 'version_name_conflict']], `${size} creates of ${name}`)
          const matching = (await rows(connectorId)).filter((r) => r.name === name)
          assert.deepEqual(matching.map((r) => r.id), [responses[winner]!.body.id])
        },
      }
    }
    case 'unpublishVsPin': {
      // Pinning a version while it is being unpublished must never leave a draft pinned.
      const v = await setupVersion(connectorId, true)
      return {
        kind,
        ops: [() => api({ method: 'POST', url: `${versionsPath(t.org.id, connectorId, v.name)}/unpublish` }), putDefault(connectorId, v)],
        async verify([unpublished, pinned]) {
          assert.equal(unpublished!.status, 200, `unpublish ${v.name}: ${JSON.stringify(unpublished!.body)}`)
          if (pinned!.status !== 200) assertError(pinned!, [[400, 'default_requires_published']], `pin ${v.name}`)
          const row = await rowById(v.id)
          assert.equal(row?.published_at, null)
          assert.notEqual(await pinnedId(connectorId), v.id, 'an unpublished version stayed pinned')
        },
      }
    }
    case 'deleteVsPin': {
      // Pinning a version while it is being deleted must never leave a dangling pin.
      const v = await setupVersion(connectorId, true)
      return {
        kind,
        ops: [() => api({ method: 'DELETE', url: `${versionsPath(t.org.id, connectorId, v.name)}?force=true` }), putDefault(connectorId, v)],
        async verify([deleted, pinned]) {
          assert.equal(deleted!.status, 204, `delete ${v.name}: ${JSON.stringify(deleted!.body)}`)
          if (pinned!.status !== 200) assertError(pinned!, [[404, 'version_not_found']], `pin ${v.name}`)
          assert.equal(await rowById(v.id), undefined)
          assert.notEqual(await pinnedId(connectorId), v.id, 'a deleted version stayed pinned')
        },
      }
    }
  }
}

test(`50 rounds of 2-8 concurrent writes on one connector keep the invariants (${testDialect})`, async () => {
  const random = seededRandom(testSeed('RACE_SEED'))
  const orgId = t.org.id
  const connectors: string[] = []
  for (let i = 0; i < 3; i++) connectors.push((await createConnector(t, { name: `race ${i}` })).id)
  const seen = new Map<Kind, number>()
  const outcomes = new Map<string, number>()

  for (let round = 0; round < 50; round++) {
    const connectorId = pick(random, connectors)
    const total = intBetween(random, 2, 8)
    // Split the round's operations into groups of distinct kinds.
    const plan = new Map<Kind, number>()
    let remaining = total
    while (remaining > 0) {
      const candidates = KINDS.filter((k) => !plan.has(k) && (!PAIRS.has(k) || remaining >= 2))
      if (candidates.length === 0) break
      const kind = pick(random, candidates)
      const size = PAIRS.has(kind) ? 2 : intBetween(random, Math.min(2, remaining), remaining)
      plan.set(kind, size)
      remaining -= size
    }
    const groups: Group[] = []
    // set-default picks existing published versions: build it before the groups that create their own.
    const order = [...plan].sort(([a], [b]) => Number(b === 'setDefault') - Number(a === 'setDefault'))
    for (const [kind, size] of order) {
      groups.push(await buildGroup(kind, size, connectorId, random))
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
    }

    // Fire every operation of the round at once, in a shuffled order.
    const ops = groups.flatMap((g, gi) => g.ops.map((op, oi) => ({ gi, oi, op })))
    for (let i = ops.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[ops[i], ops[j]] = [ops[j]!, ops[i]!]
    }
    // Half start at once, the others a few milliseconds later, so that every interleaving occurs
    // (otherwise the fastest route would always win on SQLite's single connection). Of a pair,
    // one side, chosen by a coin flip, starts late.
    const lateInPair = groups.map(() => (random() < 0.5 ? 0 : 1))
    const delays = ops.map(({ gi, oi }) => {
      if (PAIRS.has(groups[gi]!.kind)) return oi === lateInPair[gi] ? 1 + random() * 4 : 0
      return random() < 0.5 ? 0 : random() * 4
    })
    const settled = await Promise.all(ops.map(({ op }, i) => (delays[i]! > 0 ? sleep(delays[i]!).then(op) : op())))
    const responses = groups.map((g) => new Array<ApiResponse>(g.ops.length))
    ops.forEach(({ gi, oi }, i) => {
      responses[gi]![oi] = settled[i]!
    })

    groups.forEach((g, gi) => {
      const outcome = `${g.kind} ${responses[gi]!.map((r) => r.status).join('/')}`
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    })
    const context: RoundContext = { connectorId, kinds: new Set(plan.keys()) }
    try {
      for (const [gi, group] of groups.entries()) await group.verify(responses[gi]!, context)
      await checkConnectorInvariants(t.db, api, orgId, connectorId)
    } catch (error) {
      const summary = groups.map((g, gi) => `${g.kind}: ${statusesOf(responses[gi]!)}`).join('; ')
      throw new Error(`round ${round} (${summary}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }

  process.stdout.write(`# outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}\n`)
  await checkNoOrphans(t.db)
  for (const connectorId of connectors) await checkConnectorInvariants(t.db, api, orgId, connectorId)
  // Every kind of race was exercised at least once over the 50 rounds.
  assert.deepEqual([...seen.keys()].sort(), [...KINDS].sort(), `kinds exercised: ${JSON.stringify([...seen])}`)
})
