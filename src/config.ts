import path from 'node:path'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'

/**
 * The only reader of process.env. Everything the service can be configured with is
 * declared here, validated once at start-up, and passed down as a typed object.
 */
const ConfigSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ minLength: 1 }),
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  databasePoolMax: Type.Integer({ minimum: 1, maximum: 1000 }),
  migrateOnStart: Type.Boolean(),
  logLevel: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
  ]),
  bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 100 * 1024 * 1024 }),
  publicUrl: Type.Optional(Type.String()),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {}

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

function boolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`)
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = {
    host: env.HOST || '127.0.0.1',
    port: integer('PORT', env.PORT, 8080),
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolMax: integer('DATABASE_POOL_MAX', env.DATABASE_POOL_MAX, 10),
    migrateOnStart: boolean('MIGRATE_ON_START', env.MIGRATE_ON_START, true),
    logLevel: (env.LOG_LEVEL || 'info') as Config['logLevel'],
    bodyLimitBytes: integer('BODY_LIMIT_BYTES', env.BODY_LIMIT_BYTES, 1024 * 1024),
    publicUrl: env.PUBLIC_URL || undefined,
  }
  if (config.databaseUrl === undefined) delete config.databaseUrl
  if (config.publicUrl === undefined) delete config.publicUrl
  if (!Value.Check(ConfigSchema, config)) {
    const problems = [...Value.Errors(ConfigSchema, config)].map((e) => `${e.instancePath || '/'} ${e.message}`)
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  return config
}
