import SQLite from 'better-sqlite3'
import pg from 'pg'
import { issueApiKey } from '../src/auth/api-keys.service.ts'
import { CATEGORIES } from '../src/connectors/connectors.schemas.ts'
import { openDatabase } from '../src/db/database.ts'
import { insertOrganisation } from '../src/organisations/organisations.repository.ts'
import { log, runCli, withPgClient, type Target } from './common.ts'

/**
 * Bulk seeding of a catalogue straight into the tables, after `connector-registry migrate`:
 * one organisation with an API key, N connectors with tags, a category and an auth scheme,
 * M versions each. The derived data is kept consistent with what the service would produce:
 *  - the first 70 % of each connector's versions are published, with distinct, increasing
 *    publishedAt (publishing moved their updatedAt); the rest are drafts;
 *  - every tenth connector has a pinned default (an older published version);
 *  - a connector's updatedAt is the greatest updatedAt of its versions;
 *  - ids are ULIDs whose time part is the row's createdAt.
 * Rows go in as multi-row INSERTs (1,000 rows each), about 20,000 versions per transaction.
 */

export interface Catalogue {
  label: 'small' | 'large'
  connectors: number
  versionsPerConnector: number
}

/** A connector the scenarios address, with a version of each kind. */
export interface SampleConnector {
  id: string
  /** Any version, picked at random. */
  versionName: string
  versionId: string
  /** A draft version (the update scenarios change its description). */
  draftName: string
  draftId: string
  pinned: boolean
}

export interface Seeded {
  organisationId: string
  apiKey: string
  /** ListConnectors `name` filter matching a tenth of the connectors. */
  nameFilter: string
  sample: SampleConnector[]
  rows: { connectors: number; versions: number; published: number; pinned: number }
  seconds: number
}

const WORDS = ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'Foxtrot', 'Golf', 'Hotel', 'India', 'Juliett']
const NAME_FILTER = 'delta'
const SAMPLE_SIZE = 1000
const PUBLISHED_SHARE = 0.7
const T0 = Date.UTC(2023, 0, 1)
const BATCH_ROWS = 1000

// --- ULIDs without the cost of crypto-random bytes per id --------------------------------
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

function encode(value: number, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) {
    out = CROCKFORD[value % 32]! + out
    value = Math.floor(value / 32)
  }
  return out
}

/** Deterministic PRNG (mulberry32): the same catalogue and sample on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function ulidFactory(random: () => number): (timeMs: number) => string {
  let counter = 0
  // 10 time characters, then 8 counter characters (unique) and 8 random ones.
  return (timeMs) => encode(timeMs, 10) + encode(counter++, 8) + encode(Math.floor(random() * 2 ** 40), 8)
}

const iso = (ms: number) => new Date(ms).toISOString()

// --- writers ---------------------------------------------------------------------------
interface Writer {
  insert(table: string, columns: readonly string[], rows: unknown[][]): Promise<void>
  begin(): Promise<void>
  commit(): Promise<void>
  finish(): Promise<void>
}

function sqliteWriter(file: string): Writer {
  const db = new SQLite(file)
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('synchronous = OFF')
  db.pragma('cache_size = -262144')
  const statements = new Map<string, SQLite.Statement>()
  return {
    async insert(table, columns, rows) {
      const key = `${table}:${rows.length}`
      let statement = statements.get(key)
      if (!statement) {
        const tuple = `(${columns.map(() => '?').join(', ')})`
        statement = db.prepare(`insert into ${table} (${columns.join(', ')}) values ${rows.map(() => tuple).join(', ')}`)
        statements.set(key, statement)
      }
      statement.run(rows.flat())
    },
    async begin() {
      db.exec('begin')
    },
    async commit() {
      db.exec('commit')
    },
    async finish() {
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
    },
  }
}

async function postgresWriter(url: string): Promise<Writer> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return {
    async insert(table, columns, rows) {
      let n = 0
      const tuples = rows.map((row) => `(${row.map(() => `$${++n}`).join(', ')})`)
      await client.query(`insert into ${table} (${columns.join(', ')}) values ${tuples.join(', ')}`, rows.flat())
    },
    async begin() {
      await client.query('begin')
    },
    async commit() {
      await client.query('commit')
    },
    async finish() {
      await client.end()
      // Statistics and the visibility map, as autovacuum would have them on a database that grew over time.
      await withPgClient(url, (c) => c.query('vacuum analyze'))
    },
  }
}

/** Buffers rows per table and writes them as multi-row INSERTs, parents first. */
class Batcher {
  static readonly ORDER = ['connectors', 'connector_tags', 'connector_categories', 'connector_versions', 'connector_defaults']
  readonly #pending = new Map<string, { columns: readonly string[]; rows: unknown[][] }>()
  readonly #writer: Writer

  constructor(writer: Writer) {
    this.#writer = writer
  }

  async add(table: string, columns: readonly string[], row: unknown[]): Promise<void> {
    let entry = this.#pending.get(table)
    if (!entry) this.#pending.set(table, (entry = { columns, rows: [] }))
    entry.rows.push(row)
    // Flushing every table, parents first, keeps every foreign key satisfied at each statement.
    if (entry.rows.length >= BATCH_ROWS) await this.flush()
  }

  async flush(): Promise<void> {
    for (const table of Batcher.ORDER) {
      const entry = this.#pending.get(table)
      if (!entry || entry.rows.length === 0) continue
      const rows = entry.rows
      entry.rows = []
      await this.#writer.insert(table, entry.columns, rows)
    }
  }
}

const CONNECTOR_COLUMNS = [
  'id', 'organisation_id', 'name', 'protocol', 'base_url', 'is_public', 'documentation_url', 'image_url',
  'auth_scheme_configs', 'connection_variables', 'created_at', 'updated_at',
] as const
const VERSION_COLUMNS = ['id', 'connector_id', 'name', 'description', 'published_at', 'created_at', 'updated_at'] as const
const TAG_COLUMNS = ['connector_id', 'tag_key', 'tag_value', 'position'] as const

/** The organisation and API key, through the project's own repository and service. */
async function createOrganisationAndKey(target: Target): Promise<{ organisationId: string; apiKey: string }> {
  const db = openDatabase({ databaseUrl: target.databaseUrl, sqliteFile: target.sqliteFile, poolMax: 1 })
  try {
    const organisation = await insertOrganisation(db, 'bench')
    const key = await issueApiKey(db, organisation.id, { name: 'bench', scope: 'write' })
    return { organisationId: organisation.id, apiKey: key.key }
  } finally {
    await db.close()
  }
}

export async function seedCatalogue(target: Target, catalogue: Catalogue): Promise<Seeded> {
  const started = Date.now()
  await runCli(target, ['migrate'])
  const { organisationId, apiKey } = await createOrganisationAndKey(target)

  const random = prng(42)
  const newUlid = ulidFactory(random)
  const { connectors: n, versionsPerConnector: m } = catalogue
  const published = Math.max(1, Math.round(m * PUBLISHED_SHARE))
  if (published >= m) throw new Error('a catalogue needs at least one draft per connector')

  // The connectors the scenarios address: a deterministic random subset.
  const sampled = new Set<number>()
  const sampleSize = Math.min(SAMPLE_SIZE, n)
  while (sampled.size < sampleSize) sampled.add(Math.floor(random() * n))
  const sample: SampleConnector[] = []

  const writer = target.dialect === 'sqlite' ? sqliteWriter(target.sqliteFile) : await postgresWriter(target.databaseUrl!)
  const batch = new Batcher(writer)
  const connectorsPerTransaction = Math.max(1, Math.floor(20_000 / m))
  let pinned = 0
  let lastReport = Date.now()

  await writer.begin()
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % connectorsPerTransaction === 0) {
      await batch.flush()
      await writer.commit()
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now()
        log(`  seeded ${i * m} of ${n * m} versions`)
      }
      await writer.begin()
    }
    const createdMs = T0 + i * 60_000
    const connectorId = newUlid(createdMs)
    const versions: { id: string; name: string }[] = []
    const versionRows: unknown[][] = []
    let connectorUpdatedMs = createdMs
    for (let j = 0; j < m; j++) {
      const vCreated = createdMs + 1000 + j * 500
      const isPublished = j < published
      const vUpdated = isPublished ? vCreated + 250 : vCreated
      const id = newUlid(vCreated)
      const name = `1.${j}.0`
      versions.push({ id, name })
      connectorUpdatedMs = Math.max(connectorUpdatedMs, vUpdated)
      versionRows.push([
        id, connectorId, name, `Release ${name} of connector ${i}`,
        isPublished ? iso(vUpdated) : null, iso(vCreated), iso(vUpdated),
      ])
    }
    const word = WORDS[i % WORDS.length]!
    await batch.add('connectors', CONNECTOR_COLUMNS, [
      connectorId, organisationId, `${word} Connector ${String(i).padStart(6, '0')}`, 'http',
      `https://api.example.com/${word.toLowerCase()}/${i}`, i % 5 === 0 ? 1 : 0, null, null,
      JSON.stringify([{ id: newUlid(createdMs), description: 'API key in a header', schemeType: 'api-key', name: 'X-Api-Key', in: 'header' }]),
      '[]', iso(createdMs), iso(connectorUpdatedMs),
    ])
    await batch.add('connector_tags', TAG_COLUMNS, [connectorId, 'env', i % 2 ? 'prod' : 'dev', 0])
    await batch.add('connector_tags', TAG_COLUMNS, [connectorId, 'tier', `t${i % 3}`, 1])
    await batch.add('connector_categories', ['connector_id', 'category'], [connectorId, CATEGORIES[i % CATEGORIES.length]!])
    for (const row of versionRows) await batch.add('connector_versions', VERSION_COLUMNS, row)
    const isPinned = i % 10 === 3
    if (isPinned) {
      pinned++
      await batch.add('connector_defaults', ['connector_id', 'version_id'], [connectorId, versions[Math.floor(published / 2)]!.id])
    }
    if (sampled.has(i)) {
      const any = versions[Math.floor(random() * m)]!
      const draft = versions[published + Math.floor(random() * (m - published))]!
      sample.push({ id: connectorId, versionName: any.name, versionId: any.id, draftName: draft.name, draftId: draft.id, pinned: isPinned })
    }
  }
  await batch.flush()
  await writer.commit()
  await writer.finish()

  // Visit the sample in random order, not in creation order.
  for (let i = sample.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[sample[i], sample[j]] = [sample[j]!, sample[i]!]
  }
  return {
    organisationId,
    apiKey,
    nameFilter: NAME_FILTER,
    sample,
    rows: { connectors: n, versions: n * m, published: n * published, pinned },
    seconds: (Date.now() - started) / 1000,
  }
}
