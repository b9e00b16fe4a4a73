import SQLite from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely'
import pg from 'pg'
import { buildApp } from '../src/app.ts'
import type { Db } from '../src/db/database.ts'
import { postgresDialect, sqliteDialect } from '../src/db/dialect.ts'
import type { Database } from '../src/db/schema.ts'
import type { Target } from './common.ts'
import { itemsFor, SCENARIOS, type ScenarioContext } from './scenarios.ts'

/**
 * Query plans of the hot paths. The real application runs in-process on the benchmark's
 * database with a Kysely logger capturing every statement; one request per scenario is
 * injected, and each distinct statement is explained with its actual parameters:
 * EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE) on PostgreSQL (plain EXPLAIN for writes).
 *
 * Flags: a full scan of a table (SQLite `SCAN t`; PostgreSQL `Seq Scan` visiting 1,000 rows
 * or more — below that the planner rightly prefers it), and on PostgreSQL any statement that
 * visited half of a connector's versions or more (rows returned + removed by filters), or half
 * of the connectors. Notes: sorts of the matched rows, sequential scans of small tables.
 */
export interface PlannedQuery {
  scenarios: string[]
  sql: string
  plan: string[]
  flags: string[]
  notes: string[]
  /** PostgreSQL: rows visited per table (returned + filtered out), summed over loops. */
  visited?: Record<string, number>
}

interface Captured {
  sql: string
  parameters: readonly unknown[]
}

type PlanNode = {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Actual Rows'?: number
  'Actual Loops'?: number
  'Rows Removed by Filter'?: number
  'Rows Removed by Index Recheck'?: number
  Plans?: PlanNode[]
}

const LARGE_SCAN = 1000

interface Walk {
  lines: string[]
  visited: Record<string, number>
  flags: string[]
  notes: string[]
}

function walk(node: PlanNode, depth: number, out: Walk): void {
  const { lines, visited } = out
  const relation = node['Relation Name']
  const rows = node['Actual Rows']
  const loops = node['Actual Loops'] ?? 1
  const removed = (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)
  const seen = rows === undefined ? undefined : (rows + removed) * loops
  if (relation && seen !== undefined) visited[relation] = (visited[relation] ?? 0) + seen
  const detail = [
    relation ? ` on ${relation}` : '',
    node['Index Name'] ? ` using ${node['Index Name']}` : '',
    rows !== undefined ? ` (rows=${rows}${removed ? ` removed=${removed}` : ''}${loops > 1 ? ` loops=${loops}` : ''})` : '',
  ].join('')
  const line = `${node['Node Type']}${detail}`
  lines.push(`${'  '.repeat(depth)}${line}`)
  if (node['Node Type'] === 'Seq Scan') {
    // Without ANALYZE (writes) the size is unknown: flag it.
    if (seen === undefined || seen >= LARGE_SCAN) out.flags.push(`full scan: ${line}`)
    else out.notes.push(`small table scanned: ${line}`)
  }
  if (node['Node Type'] === 'Sort') out.notes.push(`sort: ${line}`)
  for (const child of node.Plans ?? []) walk(child, depth + 1, out)
}

function isPlannable(sql: string): boolean {
  return /^\s*(select|insert|update|delete|with)\b/i.test(sql)
}

export async function explainHotQueries(
  target: Target,
  context: ScenarioContext,
  sizes: { versionsPerConnector: number; connectors: number },
): Promise<{ queries: PlannedQuery[]; statementsPerRequest: Record<string, number> }> {
  const captured: Captured[] = []
  const logger = (event: LogEvent) => {
    if (event.level === 'query') captured.push({ sql: event.query.sql, parameters: event.query.parameters })
  }
  let sqlite: SQLite.Database | undefined
  let pool: pg.Pool | undefined
  let db: Db
  if (target.dialect === 'sqlite') {
    sqlite = new SQLite(target.sqliteFile)
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('busy_timeout = 5000')
    sqlite.pragma('foreign_keys = ON')
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log: logger })
    db = { kysely, dialect: sqliteDialect, location: target.sqliteFile, close: () => kysely.destroy() }
  } else {
    pool = new pg.Pool({ connectionString: target.databaseUrl, max: 4 })
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: logger })
    db = { kysely, dialect: postgresDialect, location: 'postgres', close: () => kysely.destroy() }
  }

  const app = await buildApp({ db })
  const byStatement = new Map<string, { parameters: readonly unknown[]; scenarios: Set<string> }>()
  // Every statement of one request, transaction control included, except the API-key lookup
  // (cached for API_KEY_CACHE_TTL_MS in production; this in-process app does not cache).
  const statementsPerRequest: Record<string, number> = {}
  try {
    for (const scenario of SCENARIOS) {
      if (scenario.onBaseline || scenario.itemsOf) continue
      const item = itemsFor(scenario.key, context)[0]
      if (!item) continue
      captured.length = 0
      const response = await app.inject({
        method: item.method,
        url: item.path,
        headers: {
          authorization: `Bearer ${context.seeded.apiKey}`,
          ...(item.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(item.body !== undefined ? { payload: item.body } : {}),
      })
      if (response.statusCode >= 300) throw new Error(`${scenario.key}: ${response.statusCode} ${response.body}`)
      statementsPerRequest[scenario.key] = captured.filter((q) => !/from "api_keys"/.test(q.sql)).length
      for (const query of captured) {
        if (!isPlannable(query.sql)) continue
        const entry = byStatement.get(query.sql) ?? { parameters: query.parameters, scenarios: new Set<string>() }
        entry.scenarios.add(scenario.key)
        byStatement.set(query.sql, entry)
      }
    }
  } finally {
    await app.close()
  }

  const planned: PlannedQuery[] = []
  try {
    for (const [statement, { parameters, scenarios }] of byStatement) {
      const flags: string[] = []
      const notes: string[] = []
      let plan: string[]
      let visited: Record<string, number> | undefined
      if (sqlite) {
        const rows = sqlite.prepare(`explain query plan ${statement}`).all(...(parameters as unknown[])) as { detail: string }[]
        plan = rows.map((r) => r.detail)
        for (const line of plan) {
          const scan = /^SCAN (\w+)/.exec(line)
          // A virtual table always reads "SCAN"; FTS5 with a MATCH constraint (idxStr `…:M…`) is an index lookup.
          const ftsMatch = /VIRTUAL TABLE INDEX \d+:M/.test(line)
          if (scan && scan[1] !== 'CONSTANT' && !ftsMatch) flags.push(`full scan: ${line}`)
          if (/TEMP B-TREE/.test(line)) notes.push(`sort: ${line}`)
        }
      } else {
        const analyse = /^\s*(select|with)\b/i.test(statement) && !/for update/i.test(statement)
        const result = await pool!.query(`explain (${analyse ? 'analyze, ' : ''}format json) ${statement}`, parameters as unknown[])
        const root = (result.rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]!.Plan
        const out: Walk = { lines: [], visited: {}, flags, notes }
        walk(root, 0, out)
        plan = out.lines
        visited = out.visited
        if ((visited.connector_versions ?? 0) >= sizes.versionsPerConnector / 2) {
          flags.push(`visits ${visited.connector_versions} version rows (a connector has ${sizes.versionsPerConnector})`)
        }
        if ((visited.connectors ?? 0) >= sizes.connectors / 2) flags.push(`visits ${visited.connectors} connector rows`)
      }
      planned.push({ scenarios: [...scenarios], sql: statement, plan, flags, notes, ...(visited ? { visited } : {}) })
    }
  } finally {
    await db.close()
  }
  return { queries: planned, statementsPerRequest }
}
