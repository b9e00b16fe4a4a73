import type { Db } from '../db/database.ts'
import { newId } from '../ids.ts'
import { findOrganisation } from '../organisations/organisations.repository.ts'
import { formatApiKey, hashSecret, newApiKeySecret, parseApiKey, secretMatches } from './api-key-format.ts'
import { findApiKey, insertApiKey, type ApiKeyRecord } from './api-keys.repository.ts'
import type { Principal, Scope } from './principal.ts'

export class UnknownOrganisationError extends Error {}

export interface IssuedApiKey {
  id: string
  organisationId: string
  name: string
  scope: Scope
  createdAt: string
  expiresAt: string | null
  /** The full key. Shown once; only its hash is stored. */
  key: string
}

export interface ApiKeyOptions {
  name?: string
  scope?: Scope
  /** Lifetime in milliseconds; no expiry when omitted. */
  expiresInMs?: number
}

export async function issueApiKey(db: Db, organisationId: string, options: ApiKeyOptions | string = {}): Promise<IssuedApiKey> {
  const { name = 'default', scope = 'write', expiresInMs } = typeof options === 'string' ? { name: options } : options
  if (!(await findOrganisation(db, organisationId))) {
    throw new UnknownOrganisationError(`organisation ${organisationId} does not exist`)
  }
  const id = newId()
  const secret = newApiKeySecret()
  const expiresAt = expiresInMs === undefined ? null : new Date(Date.now() + expiresInMs).toISOString()
  const record = await insertApiKey(db, { id, organisationId, name, secretHash: hashSecret(secret), scope, expiresAt })
  return { id, organisationId, name, scope, createdAt: record.createdAt, expiresAt, key: formatApiKey(id, secret) }
}

// Compared against when the key id is unknown, so unknown and wrong keys cost the same.
const DECOY_HASH = hashSecret('decoy')

function usable(record: ApiKeyRecord | undefined, secret: string): record is ApiKeyRecord {
  const matches = secretMatches(secret, record?.secretHash ?? DECOY_HASH)
  if (!record || !matches || record.revokedAt !== null) return false
  return record.expiresAt === null || record.expiresAt > new Date().toISOString()
}

/**
 * Turns a presented API key into a principal, or undefined when it is unknown, wrong, revoked
 * or expired. Verified keys are cached for `cacheTtlMs` (at most 5 s): a revocation takes
 * effect within that time on every replica. The cache is keyed by the whole presented key, so
 * a hit needs no hashing (it was a tenth of a cached request's CPU); only a key that verified
 * against its stored hash is ever cached, and the cache lives in this process only.
 */
export class ApiKeyAuthenticator {
  readonly #db: Db
  readonly #ttlMs: number
  readonly #cache = new Map<string, { principal: Principal; expiresAtMs: number; until: number }>()

  constructor(db: Db, cacheTtlMs: number) {
    this.#db = db
    this.#ttlMs = cacheTtlMs
  }

  /** The principal of a key verified within the cache's TTL, without a promise; else undefined. */
  cached(token: string): Principal | undefined {
    if (this.#ttlMs === 0) return undefined
    const entry = this.#cache.get(token)
    const now = Date.now()
    return entry && entry.until > now && entry.expiresAtMs > now ? entry.principal : undefined
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const cached = this.cached(token)
    if (cached) return cached
    const now = Date.now()
    const parsed = parseApiKey(token)
    if (!parsed) return undefined
    const record = await findApiKey(this.#db, parsed.keyId)
    if (!usable(record, parsed.secret)) {
      this.#cache.delete(token)
      return undefined
    }
    const principal: Principal = { method: 'api-key', subject: record.id, organisations: [record.organisationId], scope: record.scope }
    if (this.#ttlMs > 0) {
      if (this.#cache.size >= 10_000) this.#cache.clear()
      this.#cache.set(token, {
        principal,
        expiresAtMs: record.expiresAt === null ? Infinity : Date.parse(record.expiresAt),
        until: now + this.#ttlMs,
      })
    }
    return principal
  }
}

/** One-off authentication without caching (CLI checks, tests). */
export async function authenticateApiKey(db: Db, token: string): Promise<Principal | undefined> {
  return new ApiKeyAuthenticator(db, 0).authenticate(token)
}
