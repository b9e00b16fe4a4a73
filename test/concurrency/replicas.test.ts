import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Db } from '../../src/db/database.ts'
import { connectorBody } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'
import {
  checkConnectorInvariants,
  checkNoOrphans,
  createOrgWithKey,
  createPostgresDatabase,
  fetchApi,
  pick,
  seededRandom,
  ServerProcess,
  testSeed,
  versionsPath,
  type Api,
  type ApiResponse,
  type ServerDatabase,
} from './support.ts'

/**
 * Multi-replica test (issue 4): three real server processes on one PostgreSQL database, 16
 * concurrent clients spreading at least 2,000 random operations over them round-robin. Every
 * acknowledged (2xx) write goes into a client-side log; afterwards the database must show
 * exactly what the log says, the invariants must hold for every connector, and no request may
 * have failed with a 5xx or a transport error. Replay with REPLICA_SEED=<seed>.
 */

const REPLICAS = 3
const CLIENTS = 16
const OPS_PER_CLIENT = 128 // 16 × 128 = 2,048 operations
const MAX_CONNECTORS = 6

const skip = testDialect === 'postgres' ? false : 'the multi-replica test needs PostgreSQL: run with TEST_DIALECT=postgres DATABASE_URL=postgres://…'

/** What the acknowledged writes say about one version. Names are never reused, so a name identifies one version forever. */
interface VersionModel {
  id: string
  connectorId: string
  /** The client that created it: the only one that renames it or changes its description. */
  owner: number
  name: string
  description: string | null
  deleted: boolean
}

type Op = 'createConnector' | 'createVersion' | 'describe' | 'rename' | 'publish' | 'unpublish' | 'setDefault' | 'delete' | 'read'
const WEIGHTS: [Op, number][] = [
  ['createConnector', 1],
  ['createVersion', 22],
  ['describe', 18],
  ['rename', 8],
  ['publish', 16],
  ['unpublish', 7],
  ['setDefault', 12],
  ['delete', 8],
  ['read', 8],
]

describe('three replicas on one PostgreSQL', { skip }, () => {
  let database: ServerDatabase | undefined
  let db: Db | undefined
  const servers: ServerProcess[] = []
  let orgId = ''
  let apiKey = ''

  before(async () => {
    database = await createPostgresDatabase()
    db = database.open()
    ;({ orgId, key: apiKey } = await createOrgWithKey(db))
    const env = { ...database.env, DATABASE_POOL_MAX: '5' }
    // Started together: they also race through migrate-on-start and the first-start bootstrap.
    const started = await Promise.allSettled(Array.from({ length: REPLICAS }, () => ServerProcess.start(env)))
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value)
    for (const s of started) if (s.status === 'rejected') throw s.reason
  })

  after(async () => {
    await Promise.all(servers.map((s) => s.kill()))
    await db?.close()
    await database?.drop()
  })

  test(`${CLIENTS} clients, ${CLIENTS * OPS_PER_CLIENT} random operations across ${REPLICAS} replicas`, async () => {
    const seed = testSeed('REPLICA_SEED')
    let turn = 0
    const api: Api = fetchApi(() => servers[turn++ % servers.length]!.baseUrl, apiKey)

    const connectors: string[] = []
    const versions = new Map<string, VersionModel>()
    const byName = new Map<string, VersionModel>()
    const statuses = new Map<string, number>()
    let acknowledgedWrites = 0
    let operations = 0

    async function call(op: Op, request: Parameters<Api>[0], allowed: [number, string?][]): Promise<ApiResponse> {
      let res: ApiResponse
      try {
        res = await api(request)
      } catch (error) {
        assert.fail(`${op}: transport error for ${request.method} ${request.url}: ${String(error)}`)
      }
      const key = `${op} ${res.status}${res.status >= 400 ? ` ${res.body?.code}` : ''}`
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      assert.ok(res.status < 500, `${op}: ${res.status} for ${request.method} ${request.url}: ${JSON.stringify(res.body)}`)
      assert.ok(
        allowed.some(([status, code]) => res.status === status && (code === undefined || res.body?.code === code)),
        `${op}: unexpected ${res.status} for ${request.method} ${request.url}: ${JSON.stringify(res.body)}`,
      )
      if (res.status < 300 && request.method !== 'GET') acknowledgedWrites++
      return res
    }

    const NOT_FOUND: [number, string] = [404, 'version_not_found']

    async function client(c: number): Promise<void> {
      const random = seededRandom(seed + c)
      const totalWeight = WEIGHTS.reduce((sum, [, w]) => sum + w, 0)
      let counter = 0
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        let roll = random() * totalWeight
        let op: Op = 'read'
        for (const [candidate, weight] of WEIGHTS) {
          if ((roll -= weight) < 0) {
            op = candidate
            break
          }
        }
        const live = [...versions.values()].filter((v) => !v.deleted)
        const own = live.filter((v) => v.owner === c)
        if (op === 'createConnector' && connectors.length >= MAX_CONNECTORS) op = 'createVersion'
        if ((op === 'describe' || op === 'rename') && own.length === 0) op = 'createVersion'
        if (['publish', 'unpublish', 'setDefault', 'delete'].includes(op) && live.length === 0) op = 'createVersion'
        operations++

        switch (op) {
          case 'createConnector': {
            const res = await call(op, { method: 'POST', url: `/o/${orgId}/protocols/http/connectors`, payload: connectorBody({ name: `replica ${c}` }) }, [[201]])
            connectors.push(res.body.id)
            break
          }
          case 'createVersion': {
            const connectorId = pick(random, connectors)
            const name = `v${c}-${counter++}`
            const res = await call(op, { method: 'POST', url: versionsPath(orgId, connectorId), payload: { name } }, [[201]])
            assert.equal(res.body.name, name)
            const model: VersionModel = { id: res.body.id, connectorId, owner: c, name, description: null, deleted: false }
            versions.set(model.id, model)
            byName.set(name, model)
            break
          }
          case 'describe': {
            const v = pick(random, own)
            const description = `${v.name} #${counter++} by ${c}`
            const res = await call(
              op,
              { method: 'PUT', url: versionsPath(orgId, v.connectorId, v.name), payload: { name: v.name, description } },
              [[200], NOT_FOUND, [409, 'version_published']],
            )
            if (res.status === 200) {
              assert.equal(res.body.description, description)
              v.description = description
            }
            break
          }
          case 'rename': {
            const v = pick(random, own)
            const to = `r${c}-${counter++}`
            const res = await call(
              op,
              {
                method: 'PUT',
                url: versionsPath(orgId, v.connectorId, v.name),
                payload: { name: to, ...(v.description !== null ? { description: v.description } : {}) },
              },
              [[200], NOT_FOUND, [409, 'version_published']],
            )
            if (res.status === 200) {
              assert.equal(res.body.id, v.id)
              v.name = to
              byName.set(to, v)
            }
            break
          }
          case 'publish':
          case 'unpublish': {
            const v = pick(random, live)
            await call(
              op,
              { method: 'POST', url: `${versionsPath(orgId, v.connectorId, v.name)}/${op}` },
              [[200], NOT_FOUND, op === 'publish' ? [409, 'version_already_published'] : [409, 'version_not_published']],
            )
            break
          }
          case 'setDefault': {
            // Read, then pin with If-Match: the PUT carries the read name and description back.
            const v = pick(random, live)
            const read = await call(op, { method: 'GET', url: versionsPath(orgId, v.connectorId, v.name) }, [[200], NOT_FOUND])
            if (read.status !== 200) break
            await call(
              op,
              {
                method: 'PUT',
                url: versionsPath(orgId, v.connectorId, v.name),
                payload: { name: read.body.name, ...(read.body.description !== undefined ? { description: read.body.description } : {}), isDefault: true },
                headers: { 'if-match': read.etag! },
              },
              [[200], NOT_FOUND, [400, 'default_requires_published'], [412, 'precondition_failed']],
            )
            break
          }
          case 'delete': {
            const v = pick(random, live)
            const name = v.name
            const res = await call(op, { method: 'DELETE', url: `${versionsPath(orgId, v.connectorId, name)}?force=true` }, [[204], NOT_FOUND])
            // The version that had this name when the delete ran: names are never reused.
            if (res.status === 204) byName.get(name)!.deleted = true
            break
          }
          case 'read': {
            const connectorId = pick(random, connectors)
            const alias = random() < 0.5 ? 'latest' : 'default'
            await call(op, { method: 'GET', url: versionsPath(orgId, connectorId, alias) }, [[200], NOT_FOUND])
            break
          }
        }
      }
    }

    // A few connectors up front; clients create more as they go.
    for (let i = 0; i < 3; i++) {
      const res = await call('createConnector', { method: 'POST', url: `/o/${orgId}/protocols/http/connectors`, payload: connectorBody({ name: `replica seed ${i}` }) }, [[201]])
      connectors.push(res.body.id)
    }
    const started = Date.now()
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
    process.stdout.write(
      `# ${operations} operations (${acknowledgedWrites} acknowledged writes) in ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`,
    )
    assert.ok(operations >= 2000, `only ${operations} operations`)

    // Every acknowledged write is there, and nothing else is.
    const stored = await db!.kysely.selectFrom('connector_versions').selectAll().where('connector_id', 'in', connectors).execute()
    const storedById = new Map(stored.map((r) => [r.id, r]))
    for (const v of versions.values()) {
      const row = storedById.get(v.id)
      if (v.deleted) {
        assert.equal(row, undefined, `version ${v.name} (${v.id}) was deleted (acknowledged) but still exists`)
        continue
      }
      assert.ok(row, `acknowledged version ${v.name} (${v.id}) is missing`)
      assert.equal(row.connector_id, v.connectorId)
      assert.equal(row.name, v.name, `version ${v.id}: the name is not the last acknowledged rename`)
      assert.equal(row.description, v.description, `version ${v.name}: the description is not the last acknowledged update`)
    }
    const unexplained = stored.filter((r) => !versions.has(r.id)).map((r) => r.name)
    assert.deepEqual(unexplained, [], 'versions nobody acknowledged creating')
    const storedConnectors = await db!.kysely.selectFrom('connectors').select('id').where('organisation_id', '=', orgId).execute()
    assert.deepEqual(storedConnectors.map((r) => r.id).sort(), [...connectors].sort(), 'connectors: exactly the acknowledged creates')

    // The invariants hold for every connector, read through every replica.
    for (const [i, connectorId] of connectors.entries()) {
      const via = servers[i % servers.length]!
      await checkConnectorInvariants(db!, fetchApi(() => via.baseUrl, apiKey), orgId, connectorId)
    }
    await checkNoOrphans(db!)
    // The race was real: some operations lost to others.
    assert.ok([...statuses.keys()].some((k) => / 4\d\d /.test(k)), 'no operation ever lost a race')
  })
})
