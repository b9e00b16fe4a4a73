import type { Db } from '../db/database.ts'
import { newId } from '../ids.ts'
import { findOrganisation } from '../organisations/organisations.repository.ts'
import { formatApiKey, hashSecret, newApiKeySecret, parseApiKey, secretMatches } from './api-key-format.ts'
import { findApiKey, insertApiKey, type ApiKeyRecord } from './api-keys.repository.ts'
import type { Principal } from './principal.ts'

export class UnknownOrganisationError extends Error {}

export interface IssuedApiKey {
  id: string
  organisationId: string
  name: string
  createdAt: string
  /** The full key. Shown once; only its hash is stored. */
  key: string
}

export async function issueApiKey(db: Db, organisationId: string, name = 'default'): Promise<IssuedApiKey> {
  if (!(await findOrganisation(db, organisationId))) {
    throw new UnknownOrganisationError(`organisation ${organisationId} does not exist`)
  }
  const id = newId()
  const secret = newApiKeySecret()
  const record = await insertApiKey(db, { id, organisationId, name, secretHash: hashSecret(secret) })
  return { id, organisationId, name, createdAt: record.createdAt, key: formatApiKey(id, secret) }
}

// Compared against when the key id is unknown, so unknown and wrong keys cost the same.
const DECOY_HASH = hashSecret('decoy')

/** Turns a presented API key into a principal, or undefined when it is unknown, wrong or revoked. */
export async function authenticateApiKey(db: Db, token: string): Promise<Principal | undefined> {
  const parsed = parseApiKey(token)
  if (!parsed) return undefined
  const record: ApiKeyRecord | undefined = await findApiKey(db, parsed.keyId)
  const matches = secretMatches(parsed.secret, record?.secretHash ?? DECOY_HASH)
  if (!record || !matches || record.revokedAt !== null) return undefined
  return { method: 'api-key', subject: record.id, organisations: [record.organisationId], scope: 'write' }
}
