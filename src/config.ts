import path from 'node:path'

/**
 * The only reader of process.env. Everything the service can be configured with is declared
 * here, validated once at start-up (ConfigError names the offending variable), and passed
 * down as a typed object. README "Configuration" documents every variable.
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface JwtConfig {
  jwksUrl: string
  issuer: string
  audience: string
  /** Claim listing the organisation ids the subject may act on; `*` grants all. */
  orgClaim: string
  algorithms: string[]
  clockToleranceS: number
  maxTokenBytes: number
  /** Minimum time between two JWKS fetches triggered by unknown `kid`s. */
  jwksCooldownS: number
  /** Age after which the JWKS is refetched (the old set stays in use if that fails). */
  jwksRefreshS: number
}

export interface LimitsConfig {
  /** Requests per principal (or client address for unauthenticated routes) per window. */
  rateLimitMax: number
  rateLimitWindowMs: number
  /** Failed authentications per client address per window before 429. */
  authFailureMax: number
  authFailureWindowMs: number
  bodyLimitBytes: number
  maxJsonDepth: number
  maxHeaderBytes: number
  requestTimeoutMs: number
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
}

export interface SecurityConfig {
  jwt?: JwtConfig
  sessionCookie: string
  allowedOrigins: string[]
  redisUrl?: string
  /** How long a verified API key is cached; revocation takes effect within this time. */
  apiKeyCacheTtlMs: number
  limits: LimitsConfig
}

export interface Config extends SecurityConfig {
  host: string
  port: number
  dataDir: string
  databaseUrl?: string
  databasePoolMax: number
  migrateOnStart: boolean
  logLevel: LogLevel
  publicUrl?: string
  /** Memory for cached response bodies (connectors, versions, version pages); 0 turns the cache off. */
  representationCacheMb: number
  /** SQLite: the page cache of the connection that serves requests (and the CLI's), in MiB. */
  sqliteCacheMb: number
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>

function text(env: Env, name: string): string | undefined {
  const raw = env[name]
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim()
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`)
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  return raw.split(',').map((s) => s.trim()).filter(Boolean)
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = text(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(raw)}`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got ${parsed.protocol}`)
  }
  return raw
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

function jwtConfig(env: Env): JwtConfig | undefined {
  const jwksUrl = url(env, 'JWT_JWKS_URL', ['https:', 'http:'])
  const issuer = text(env, 'JWT_ISSUER')
  const audience = text(env, 'JWT_AUDIENCE')
  const given = [jwksUrl, issuer, audience].filter((v) => v !== undefined).length
  if (given === 0) return undefined
  if (given !== 3) throw new ConfigError('JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE must be set together to enable JWTs')
  const algorithms = list(env, 'JWT_ALGORITHMS', ['RS256', 'ES256', 'EdDSA'])
  const unsupported = algorithms.filter((a) => !JWT_ALGORITHMS.includes(a))
  if (unsupported.length > 0 || algorithms.length === 0) {
    throw new ConfigError(`JWT_ALGORITHMS may only list asymmetric algorithms (${JWT_ALGORITHMS.join(', ')}); got ${unsupported.join(', ') || 'none'}`)
  }
  return {
    jwksUrl: jwksUrl!,
    issuer: issuer!,
    audience: audience!,
    orgClaim: text(env, 'JWT_ORG_CLAIM') ?? 'organisations',
    algorithms,
    clockToleranceS: integer(env, 'JWT_CLOCK_TOLERANCE_S', 30, 0, 600),
    maxTokenBytes: integer(env, 'JWT_MAX_BYTES', 8192, 256, 65536),
    jwksCooldownS: integer(env, 'JWT_JWKS_COOLDOWN_S', 30, 0, 3600),
    jwksRefreshS: integer(env, 'JWT_JWKS_REFRESH_S', 600, 1, 86400),
  }
}

export function defaultLimits(): LimitsConfig {
  return {
    rateLimitMax: 1200,
    rateLimitWindowMs: 60_000,
    authFailureMax: 30,
    authFailureWindowMs: 60_000,
    bodyLimitBytes: 1024 * 1024,
    maxJsonDepth: 32,
    maxHeaderBytes: 16 * 1024,
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
  }
}

/**
 * The page cache better-sqlite3's own build gives a connection (SQLITE_DEFAULT_CACHE_SIZE=-16000),
 * set explicitly so it does not change with the driver's build. Within the 200 MB peak RSS of the
 * benchmark's large catalogue (docs/performance.md, round 18).
 */
export const DEFAULT_SQLITE_CACHE_MB = 16

export function loadConfig(env: Env = process.env): Config {
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  const defaults = defaultLimits()
  const limits: LimitsConfig = {
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', defaults.rateLimitMax, 1, 1_000_000),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', defaults.rateLimitWindowMs, 1000, 86_400_000),
    authFailureMax: integer(env, 'AUTH_FAILURE_MAX', defaults.authFailureMax, 1, 1_000_000),
    authFailureWindowMs: integer(env, 'AUTH_FAILURE_WINDOW_MS', defaults.authFailureWindowMs, 1000, 86_400_000),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', defaults.bodyLimitBytes, 1024, 100 * 1024 * 1024),
    maxJsonDepth: integer(env, 'MAX_JSON_DEPTH', defaults.maxJsonDepth, 4, 1000),
    maxHeaderBytes: integer(env, 'MAX_HEADER_BYTES', defaults.maxHeaderBytes, 1024, 1024 * 1024),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', defaults.requestTimeoutMs, 1000, 3_600_000),
    headersTimeoutMs: integer(env, 'HEADERS_TIMEOUT_MS', defaults.headersTimeoutMs, 1000, 3_600_000),
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', defaults.keepAliveTimeoutMs, 100, 3_600_000),
  }
  const jwt = jwtConfig(env)
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:'])
  return {
    host: text(env, 'HOST') ?? '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir: path.resolve(text(env, 'DATA_DIR') ?? './data'),
    ...(databaseUrl ? { databaseUrl } : {}),
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    logLevel,
    ...(publicUrl ? { publicUrl } : {}),
    ...(jwt ? { jwt } : {}),
    sessionCookie: text(env, 'SESSION_COOKIE') ?? 'session',
    allowedOrigins: list(env, 'ALLOWED_ORIGINS', []),
    ...(redisUrl ? { redisUrl } : {}),
    apiKeyCacheTtlMs: integer(env, 'API_KEY_CACHE_TTL_MS', 2000, 0, 5000),
    representationCacheMb: integer(env, 'REPRESENTATION_CACHE_MB', 32, 0, 4096),
    sqliteCacheMb: integer(env, 'SQLITE_CACHE_MB', DEFAULT_SQLITE_CACHE_MB, 1, 4096),
    limits,
  }
}
