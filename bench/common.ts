import { execFile } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

/** Shared plumbing of the benchmark: where things are, how the CLI and databases are reached. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Where the server under test and its CLI come from: this project, or (`--app-dir`) another
 * checkout of it, e.g. the previous commit, to compare two versions with the same harness.
 */
let appDir = ROOT

export function setAppDir(dir: string): void {
  appDir = path.resolve(dir)
  if (!fs.existsSync(cliPath())) throw new Error(`--app-dir ${dir} has no src/cli.ts`)
}

export function getAppDir(): string {
  return appDir
}

export function cliPath(): string {
  return path.join(appDir, 'src', 'cli.ts')
}

/**
 * How production starts the server: the command after the last `&&` of `npm start` in appDir's
 * package.json (`node [flags] dist/cli.js serve`), so the benchmark measures the same build and
 * the same V8 flags as production. `buildApp()` compiles appDir first. A checkout from before the
 * build step existed (an older commit under `--app-dir`) runs from its sources through tsx, as
 * its `npm start` did then.
 */
export function serverCommand(): { nodeFlags: string[]; args: string[] } {
  if (!hasBuild()) return { nodeFlags: [], args: ['--import', 'tsx', cliPath(), 'serve'] }
  const pkg = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
  const start = pkg.scripts?.start ?? ''
  const words = start.split('&&').at(-1)!.trim().split(/\s+/)
  const script = words.findIndex((w) => !w.startsWith('-') && w !== 'node')
  if (words[0] !== 'node' || script < 0 || words.slice(script).join(' ') !== 'dist/cli.js serve') {
    throw new Error(`cannot start the server like production: npm start should end in "node [flags] dist/cli.js serve", got ${JSON.stringify(start)}`)
  }
  return { nodeFlags: words.slice(1, script), args: [path.join(appDir, 'dist', 'cli.js'), 'serve'] }
}

function hasBuild(): boolean {
  return fs.existsSync(path.join(appDir, 'tsconfig.build.json'))
}

/** `npm run build` in `appDir`, so the server under test is the current source. */
export function buildApp(): Promise<void> {
  if (!hasBuild()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    execFile('npm', ['run', 'build'], { cwd: appDir }, (error, stdout, stderr) => {
      if (error) reject(new Error(`npm run build failed in ${appDir}: ${stdout}${stderr || error.message}`))
      else resolve()
    })
  })
}

export type DialectName = 'sqlite' | 'postgres'

/** One fresh database the benchmark owns: a temporary DATA_DIR, plus a PostgreSQL database when asked. */
export interface Target {
  dialect: DialectName
  dataDir: string
  /** The SQLite file the server uses (unused on PostgreSQL). */
  sqliteFile: string
  databaseUrl?: string
  /** Removes the database and the data directory. */
  drop(): Promise<void>
}

export function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
}

export async function createTarget(dialect: DialectName, adminUrl: string | undefined, label: string): Promise<Target> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cr-bench-${label}-`))
  const sqliteFile = path.join(dataDir, 'registry.db')
  if (dialect === 'sqlite') {
    return { dialect, dataDir, sqliteFile, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) }
  }
  if (!adminUrl) throw new Error('PostgreSQL needs DATABASE_URL')
  const name = `cr_bench_${label}_${process.pid}_${Date.now().toString(36)}`
  await withPgClient(adminUrl, (client) => client.query(`create database ${name}`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    dialect,
    dataDir,
    sqliteFile,
    databaseUrl: url.toString(),
    async drop() {
      await withPgClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`))
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function withPgClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * The server's settings (README "Configuration") that change its speed or memory. A run inherits
 * them from the environment (targetEnv); the report names those set, so that a tuned run is never
 * taken for one of the defaults.
 */
const TUNING_VARIABLES = ['SQLITE_CACHE_MB', 'REPRESENTATION_CACHE_MB', 'API_KEY_CACHE_TTL_MS', 'DATABASE_POOL_MAX', 'REDIS_URL']

/** The tuning variables set in this environment, by name; a URL's value is left out (it may hold a password). */
export function serverTuning(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const set = TUNING_VARIABLES.filter((name) => env[name] !== undefined && env[name]!.trim() !== '')
  return Object.fromEntries(set.map((name) => [name, name.endsWith('_URL') ? '(set)' : env[name]!.trim()]))
}

/** Environment of every process started on a target: the server, the CLI, the baselines. */
export function targetEnv(target: Target, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: target.dataDir, LOG_LEVEL: 'warn', ...extra }
  if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl
  else delete env.DATABASE_URL
  return env
}

/** Runs `connector-registry <args>` the way an operator would, returning its standard output. */
export function runCli(target: Target, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', cliPath(), ...args], { cwd: appDir, env: targetEnv(target) }, (error, stdout, stderr) => {
      if (error) reject(new Error(`cli ${args.join(' ')} failed: ${stderr || error.message}`))
      else resolve(stdout)
    })
  })
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
