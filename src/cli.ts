#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander'
import type { Scope } from './auth/principal.ts'
import { issueApiKey, UnknownOrganisationError } from './auth/api-keys.service.ts'
import { listApiKeys, revokeApiKey } from './auth/api-keys.repository.ts'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { openDatabase, sqliteFileIn, type Db } from './db/database.ts'
import { migrateToLatest } from './db/migrate.ts'
import { findOrganisation, insertOrganisation } from './organisations/organisations.repository.ts'

class CliError extends Error {}

/** Opens the configured database, migrated (unless told not to), for one command; always closes it. */
async function withDatabase<T>(work: (db: Db, config: Config) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig()
  const db = openDatabase({
    databaseUrl: config.databaseUrl,
    poolMax: config.databasePoolMax,
    sqliteFile: sqliteFileIn(config.dataDir),
    sqliteCacheMb: config.sqliteCacheMb,
    // One command's few writes: SQLite's own checkpoint at close is enough.
    backgroundCheckpoints: false,
  })
  try {
    if (options.migrate !== false) await migrateToLatest(db)
    return await work(db, config)
  } finally {
    await db.close()
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`)
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/

function requireUlid(value: string, what: string): string {
  if (!ULID.test(value)) throw new CliError(`${what} must be a ULID (26 characters, e.g. 01J9Z3…), got ${JSON.stringify(value)}`)
  return value
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

function durationMs(text: string): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(text.trim())
  if (!match || Number(match[1]) === 0) throw new CliError(`--expires-in must look like 90m, 12h, 30d or 2w, got ${JSON.stringify(text)}`)
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

const program = new Command()
  .name('connector-registry')
  .description('Connector registry: serve the API and administer organisations and API keys.')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) })

program
  .command('serve')
  .description('start the HTTP server (HOST, PORT, DATA_DIR, DATABASE_URL … see README)')
  .action(async () => {
    // Loaded on demand: the HTTP stack would double the start-up time of every other command.
    const { serve } = await import('./server.ts')
    await serve(loadConfig())
  })

program
  .command('migrate')
  .description('create or upgrade the database schema')
  .action(async () => {
    await withDatabase(async (db) => {
      const applied = await migrateToLatest(db)
      print(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
    }, { migrate: false })
  })

const org = program.command('org').description('manage organisations')
org
  .command('create')
  .description('create an organisation')
  .requiredOption('--name <name>', 'organisation name')
  .option('--json', 'print one JSON object')
  .action(async (options: { name: string; json?: boolean }) => {
    const name = options.name.trim()
    if (!name) throw new CliError('--name must not be empty')
    await withDatabase(async (db) => {
      const created = await insertOrganisation(db, name)
      if (options.json) print(JSON.stringify(created))
      else print(`created organisation ${created.id} (${created.name})`)
    })
  })

const key = program.command('key').description('manage API keys')
key
  .command('create')
  .description('create an API key for an organisation; the key is shown once')
  .requiredOption('--org <organisationId>', 'organisation id')
  .option('--name <name>', 'a label for the key', 'default')
  .addOption(new Option('--scope <scope>', 'read: GET only; write: everything').choices(['read', 'write']).default('write'))
  .option('--expires-in <duration>', 'lifetime such as 90m, 12h, 30d or 2w (default: no expiry)')
  .option('--json', 'print one JSON object')
  .action(async (options: { org: string; name: string; scope: Scope; expiresIn?: string; json?: boolean }) => {
    requireUlid(options.org, '--org')
    const expiresInMs = options.expiresIn === undefined ? undefined : durationMs(options.expiresIn)
    await withDatabase(async (db) => {
      const issued = await issueApiKey(db, options.org, {
        name: options.name,
        scope: options.scope,
        ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      })
      if (options.json) print(JSON.stringify(issued))
      else {
        const expiry = issued.expiresAt ? `, expires ${issued.expiresAt}` : ''
        print(`created ${issued.scope} API key ${issued.id} for organisation ${issued.organisationId}${expiry}`)
        print(`key (shown once, store it now): ${issued.key}`)
      }
    })
  })

key
  .command('list')
  .description("list an organisation's API keys (never the keys themselves)")
  .requiredOption('--org <organisationId>', 'organisation id')
  .option('--json', 'print a JSON array')
  .action(async (options: { org: string; json?: boolean }) => {
    requireUlid(options.org, '--org')
    await withDatabase(async (db) => {
      if (!(await findOrganisation(db, options.org))) throw new CliError(`organisation ${options.org} does not exist`)
      const keys = (await listApiKeys(db, options.org)).map(({ secretHash: _hash, ...visible }) => visible)
      if (options.json) return print(JSON.stringify(keys))
      if (keys.length === 0) return print('no API keys')
      const now = new Date().toISOString()
      for (const k of keys) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt && k.expiresAt <= now ? `expired ${k.expiresAt}` : 'active'
        print(`${k.id}  ${k.name}  ${k.scope}  created ${k.createdAt}  ${state}`)
      }
    })
  })

key
  .command('revoke')
  .description('revoke an API key; it stops working on the next request')
  .argument('<keyId>', 'API key id')
  .action(async (keyId: string) => {
    requireUlid(keyId, 'KEY_ID')
    await withDatabase(async (db) => {
      if (!(await revokeApiKey(db, keyId))) throw new CliError(`API key ${keyId} does not exist`)
      print(`revoked API key ${keyId}`)
    })
  })

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode
  } else if (error instanceof CliError || error instanceof ConfigError || error instanceof UnknownOrganisationError) {
    process.stderr.write(`error: ${error.message}\n`)
    process.exitCode = 1
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
}
