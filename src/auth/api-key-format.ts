import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * API keys look like `crk_<key id>_<secret>`: a recognisable prefix for secret scanners, the
 * key's ULID so the row is found by primary key, and 256 random bits. Only a SHA-256 of the
 * secret is stored; with that much entropy a fast hash cannot be reversed or brute-forced.
 */
const PREFIX = 'crk_'
const FORMAT = /^crk_([0-9A-HJKMNP-TV-Z]{26})_([A-Za-z0-9_-]{43})$/

export interface ParsedApiKey {
  keyId: string
  secret: string
}

export function newApiKeySecret(): string {
  return randomBytes(32).toString('base64url')
}

export function formatApiKey(keyId: string, secret: string): string {
  return `${PREFIX}${keyId}_${secret}`
}

export function parseApiKey(token: string): ParsedApiKey | undefined {
  const match = FORMAT.exec(token)
  if (!match) return undefined
  return { keyId: match[1]!, secret: match[2]! }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex')
  const stored = Buffer.from(storedHash, 'hex')
  return presented.length === stored.length && timingSafeEqual(presented, stored)
}
