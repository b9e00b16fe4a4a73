import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { issueApiKey } from '../../src/auth/api-keys.service.ts'
import { openDatabase, sqliteFileIn, type Db } from '../../src/db/database.ts'
import { migrateToLatest } from '../../src/db/migrate.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import type { TestApp, TestOrg } from '../helpers/app.ts'

/** Helpers shared by the concurrency test files (not a test file itself). */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

// ---------------------------------------------------------------------------------------------
// Randomness: seeded, so a failing run can be replayed with the seed it prints.

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed from `envName` when set, otherwise a fresh one; printed so a failure can be replayed. */
export function testSeed(envName: string): number {
  const raw = process.env[envName]
  const seed = raw ? Number(raw) : Math.floor(Math.random() * 2 ** 31)
  process.stdout.write(`# ${envName}=${seed}\n`)
  return seed
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  assert.ok(items.length > 0, 'pick from an empty list')
  return items[Math.floor(random() * items.length)]!
}

export function intBetween(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// ---------------------------------------------------------------------------------------------
// A uniform client over both in-process injection and real HTTP servers.

export interface ApiResponse {
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
  etag: string | undefined
}

export interface ApiRequest {
  method: string
  url: string
  payload?: unknown
  headers?: Record<string, string>
}

export type Api = (request: ApiRequest) => Promise<ApiResponse>

/**
 * More API keys of `t.org`'s organisation: concurrent clients each get their own credential (as
 * real clients would), so the per-principal rate limit applies to each separately.
 */
export async function clientKeys(t: TestApp, count: number): Promise<TestOrg[]> {
  const keys: TestOrg[] = []
  for (let i = 0; i < count; i++) {
    const issued = await issueApiKey(t.db, t.org.id, { name: `client ${i}` })
    keys.push({ id: t.org.id, key: issued.key, keyId: issued.id, auth: { authorization: `Bearer ${issued.key}` } })
  }
  return keys
}

/** Requests through the test harness (contract checks, fails on 5xx), as `as()` (default `t.org`). */
export function injectApi(t: TestApp, as: () => TestOrg = () => t.org): Api {
  return async ({ method, url, payload, headers }) => {
    const res = await t.request({
      method: method as 'GET',
      url,
      as: as(),
      headers: headers ?? {},
      ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
    })
    const etag = res.headers.etag
    return { status: res.status, body: res.body, etag: typeof etag === 'string' ? etag : undefined }
  }
}

/**
 * Requests injected straight into the app, without the harness's contract checks: for hot
 * loops of thousands of requests whose statuses the caller asserts itself (5xx included).
 */
export function rawInjectApi(t: TestApp, as: TestOrg = t.org): Api {
  return async ({ method, url, payload, headers }) => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { ...as.auth, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...(headers ?? {}) },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    })
    const etag = res.headers.etag
    assert.ok(res.statusCode < 500, `server error ${res.statusCode} for ${method} ${url}: ${res.body}`)
    return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body), etag: typeof etag === 'string' ? etag : undefined }
  }
}

/** Requests over loopback HTTP to `baseUrl()` (evaluated per request, so it may rotate between servers). */
export function fetchApi(baseUrl: () => string, apiKey: string): Api {
  return async ({ method, url, payload, headers }) => {
    const init: RequestInit = {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(headers ?? {}),
      },
      ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
      signal: AbortSignal.timeout(30_000),
    }
    const res = await fetch(`${baseUrl()}${url}`, init)
    const text = await res.text()
    let body: unknown
    if (text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    return { status: res.status, body, etag: res.headers.get('etag') ?? undefined }
  }
}

export function versionsPath(orgId: string, connectorId: string, version?: string): string {
  const base = `/o/${orgId}/connectors/${connectorId}/versions`
  return version === undefined ? base : `${base}/${encodeURIComponent(version)}`
}

// ---------------------------------------------------------------------------------------------
// Invariants.

interface VersionItem {
  id: string
  name: string
  isLatest: boolean
  isDefault: boolean
  publishedAt: string | null
  description?: string
}

/** Every version of a connector through ListConnectorVersions, following `next` cursors. */
export async function listAllVersions(api: Api, orgId: string, connectorId: string): Promise<{ items: VersionItem[]; totalCount: number }> {
  const items: VersionItem[] = []
  let totalCount = -1
  let after: string | undefined
  for (let page = 0; page < 1000; page++) {
    const query = after === undefined ? '?first=100' : `?first=100&after=${encodeURIComponent(after)}`
    const res = await api({ method: 'GET', url: `${versionsPath(orgId, connectorId)}${query}` })
    assert.equal(res.status, 200, `ListConnectorVersions: ${JSON.stringify(res.body)}`)
    if (totalCount === -1) totalCount = res.body.totalCount
    items.push(...(res.body.items as VersionItem[]))
    after = res.body.next
    if (after === undefined) break
  }
  return { items, totalCount }
}

/**
 * The per-connector invariants, checked in the database and through the API while no writes
 * are running: at most one pinned default and it is a published version of the same connector;
 * `latest` is the published version with the greatest (published_at, id); `default` is the pin,
 * else latest; ListConnectorVersions marks exactly those (one isLatest when anything is
 * published, at most one isDefault); names are unique; the API shows exactly the stored rows.
 */
export async function checkConnectorInvariants(db: Db, api: Api, orgId: string, connectorId: string): Promise<void> {
  const where = `connector ${connectorId}`
  const rows = await db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', connectorId).execute()
  const pins = await db.kysely.selectFrom('connector_defaults').selectAll().where('connector_id', '=', connectorId).execute()
  assert.ok(pins.length <= 1, `${where}: ${pins.length} pinned defaults`)
  const pinned = pins[0] ? rows.find((r) => r.id === pins[0]!.version_id) : undefined
  if (pins[0]) {
    assert.ok(pinned, `${where}: the pinned default ${pins[0].version_id} is not a version of this connector`)
    assert.notEqual(pinned.published_at, null, `${where}: the pinned default ${pinned.name} is a draft`)
  }
  const names = rows.map((r) => r.name)
  assert.equal(new Set(names).size, names.length, `${where}: duplicate version names ${JSON.stringify(names)}`)

  let latest: (typeof rows)[number] | undefined
  for (const r of rows) {
    if (r.published_at === null) continue
    if (!latest || r.published_at > latest.published_at! || (r.published_at === latest.published_at && r.id > latest.id)) latest = r
  }
  const expectedDefault = pinned ?? latest

  for (const [alias, want] of [['latest', latest], ['default', expectedDefault]] as const) {
    const res = await api({ method: 'GET', url: versionsPath(orgId, connectorId, alias) })
    if (want === undefined) {
      assert.equal(res.status, 404, `${where}: ${alias} should not resolve: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'version_not_found')
    } else {
      assert.equal(res.status, 200, `${where}: ${alias}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.id, want.id, `${where}: ${alias} is ${res.body.name}, expected ${want.name}`)
      assert.equal(res.body[alias === 'latest' ? 'isLatest' : 'isDefault'], true)
    }
  }

  const { items, totalCount } = await listAllVersions(api, orgId, connectorId)
  assert.equal(totalCount, rows.length, `${where}: totalCount`)
  assert.deepEqual(items.map((v) => v.id).sort(), rows.map((r) => r.id).sort(), `${where}: listed ids differ from stored ids`)
  assert.equal(new Set(items.map((v) => v.name)).size, items.length, `${where}: listed names not unique`)
  assertFlags(where, items, latest?.id, expectedDefault?.id)

  const connector = await api({ method: 'GET', url: `/o/${orgId}/connectors/${connectorId}` })
  assert.equal(connector.status, 200, `${where}: GetConnector ${JSON.stringify(connector.body)}`)
  assertFlags(`${where} (GetConnector)`, connector.body.versions as VersionItem[], latest?.id, expectedDefault?.id)
}

function assertFlags(where: string, items: VersionItem[], latestId: string | undefined, defaultId: string | undefined): void {
  const latest = items.filter((v) => v.isLatest).map((v) => v.id)
  const defaults = items.filter((v) => v.isDefault).map((v) => v.id)
  assert.deepEqual(latest, latestId === undefined ? [] : [latestId], `${where}: isLatest flags`)
  assert.deepEqual(defaults, defaultId === undefined ? [] : [defaultId], `${where}: isDefault flags`)
}

/** Nothing anywhere references a row that does not exist. */
export async function checkNoOrphans(db: Db): Promise<void> {
  const k = db.kysely
  const orphanVersions = await k
    .selectFrom('connector_versions as v')
    .leftJoin('connectors as c', 'c.id', 'v.connector_id')
    .select('v.id')
    .where('c.id', 'is', null)
    .execute()
  assert.deepEqual(orphanVersions, [], 'versions without a connector')
  const orphanDefaults = await k
    .selectFrom('connector_defaults as d')
    .leftJoin('connector_versions as v', (join) => join.onRef('v.id', '=', 'd.version_id').onRef('v.connector_id', '=', 'd.connector_id'))
    .leftJoin('connectors as c', 'c.id', 'd.connector_id')
    .select(['d.connector_id', 'd.version_id'])
    .where((eb) => eb.or([eb('v.id', 'is', null), eb('c.id', 'is', null)]))
    .execute()
  assert.deepEqual(orphanDefaults, [], 'defaults pointing at a missing connector or version')
  const orphanTags = await k
    .selectFrom('connector_tags as t')
    .leftJoin('connectors as c', 'c.id', 't.connector_id')
    .select('t.connector_id')
    .where('c.id', 'is', null)
    .execute()
  assert.deepEqual(orphanTags, [], 'tags without a connector')
  const orphanCategories = await k
    .selectFrom('connector_categories as t')
    .leftJoin('connectors as c', 'c.id', 't.connector_id')
    .select('t.connector_id')
    .where('c.id', 'is', null)
    .execute()
  assert.deepEqual(orphanCategories, [], 'categories without a connector')
  const orphanConnectors = await k
    .selectFrom('connectors as c')
    .leftJoin('organisations as o', 'o.id', 'c.organisation_id')
    .select('c.id')
    .where('o.id', 'is', null)
    .execute()
  assert.deepEqual(orphanConnectors, [], 'connectors without an organisation')
}

// ---------------------------------------------------------------------------------------------
// Databases for real server processes.

export interface ServerDatabase {
  /** Environment a server process needs to use this database. */
  env: Record<string, string>
  /** The SQLite file, when SQLite. */
  sqliteFile?: string
  /** Opens a connection from the test process (migrated). Close it before drop(). */
  open(): Db
  drop(): Promise<void>
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('TEST_DIALECT=postgres needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)')
  return url
}

/** A fresh, migrated PostgreSQL database (created from DATABASE_URL's server), dropped by drop(). */
export async function createPostgresDatabase(): Promise<ServerDatabase> {
  const admin = adminUrl()
  const name = `cr_conc_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(`create database ${name}`)
  await client.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const migrator = openDatabase({ databaseUrl, poolMax: 2 })
  await migrateToLatest(migrator)
  await migrator.close()
  return {
    env: { DATABASE_URL: databaseUrl },
    open: () => openDatabase({ databaseUrl, poolMax: 5 }),
    async drop() {
      const dropper = new pg.Client({ connectionString: admin })
      await dropper.connect()
      await dropper.query(`drop database if exists ${name} with (force)`)
      await dropper.end()
    },
  }
}

/** A fresh, migrated SQLite database in a temporary DATA_DIR, removed by drop(). */
export async function createSqliteDatabase(): Promise<ServerDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-conc-'))
  const sqliteFile = sqliteFileIn(dataDir)
  const migrator = openDatabase({ sqliteFile })
  await migrateToLatest(migrator)
  await migrator.close()
  return {
    env: { DATA_DIR: dataDir },
    sqliteFile,
    open: () => openDatabase({ sqliteFile }),
    async drop() {
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** An organisation and API key created directly in the database. */
export async function createOrgWithKey(db: Db, name = 'concurrency'): Promise<{ orgId: string; key: string }> {
  const organisation = await insertOrganisation(db, name)
  const issued = await issueApiKey(db, organisation.id, 'concurrency')
  return { orgId: organisation.id, key: issued.key }
}

// ---------------------------------------------------------------------------------------------
// Real server processes.

/** A port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

const START_TIMEOUT_MS = 120_000

const running = new Set<ChildProcess>()
// Last resort: never leave servers behind, even when the test process dies on an assertion
// or is interrupted.
function killAll(): void {
  for (const child of running) child.kill('SIGKILL')
}
process.on('exit', killAll)
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(code)
  })
}

export class ServerProcess {
  readonly port: number
  readonly baseUrl: string
  readonly #env: Record<string, string>
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #output = ''

  constructor(port: number, env: Record<string, string>) {
    this.port = port
    this.baseUrl = `http://127.0.0.1:${port}`
    this.#env = env
  }

  static async start(env: Record<string, string>): Promise<ServerProcess> {
    const server = new ServerProcess(await freePort(), env)
    await server.start()
    return server
  }

  get running(): boolean {
    return this.#child !== undefined
  }

  /** The tail of the process's stdout/stderr, for failure messages. */
  get output(): string {
    return this.#output.slice(-4000)
  }

  /** Starts (or restarts) `node --import tsx src/cli.ts serve` and waits until /healthz answers. */
  async start(): Promise<void> {
    assert.equal(this.#child, undefined, 'server already running')
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(this.port),
      LOG_LEVEL: 'warn',
      // Load tests send thousands of requests with one key; the rate limit is not under test here.
      RATE_LIMIT_MAX: '1000000',
      ...this.#env,
    }
    // Only what `env` names selects the database: never inherit the admin DATABASE_URL by accident.
    if (!('DATABASE_URL' in this.#env)) delete env.DATABASE_URL
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    running.add(child)
    const capture = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000)
    }
    child.stdout?.on('data', capture)
    child.stderr?.on('data', capture)
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        running.delete(child)
        if (this.#child === child) this.#child = undefined
        resolve()
      })
    })
    // Generous: a loaded CI machine can take tens of seconds to load the TypeScript sources.
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (this.#child !== child) throw new Error(`server on port ${this.port} exited during start-up:\n${this.output}`)
      try {
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) })
        if (res.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill()
        throw new Error(`server on port ${this.port} did not become healthy in ${START_TIMEOUT_MS / 1000} s:\n${this.output}`)
      }
      await sleep(50)
    }
  }

  /** Sends `signal` (SIGKILL by default) and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child
    if (!child) return
    child.kill(signal)
    await this.#exited
  }

  /** Graceful stop (SIGTERM), falling back to SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child
    if (!child) return
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      await this.kill('SIGTERM')
    } finally {
      clearTimeout(timer)
    }
  }
}

/** True when the error is a transport failure (connection refused/reset, aborted), not an HTTP answer. */
export function isTransportError(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
}
