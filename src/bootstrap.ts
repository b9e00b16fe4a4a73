import fs from 'node:fs'
import path from 'node:path'
import { issueApiKey } from './auth/api-keys.service.ts'
import type { Db } from './db/database.ts'
import { getOrCreateSetting } from './db/settings.ts'
import { insertOrganisation } from './organisations/organisations.repository.ts'

export interface Bootstrap {
  organisationId: string
  apiKey: string
}

/**
 * On a fresh database, creates a first organisation and API key so a newcomer can call the API
 * at once. Exactly one replica wins the marker, so several starting together create one pair.
 * The key is written to DATA_DIR/bootstrap.json (mode 0600) and returned to be printed once.
 */
export async function bootstrapIfFresh(db: Db, dataDir: string): Promise<Bootstrap | undefined> {
  const marker = await getOrCreateSetting(db, 'bootstrapped', () => new Date().toISOString())
  if (!marker.created) return undefined
  const organisation = await insertOrganisation(db, 'default')
  const key = await issueApiKey(db, organisation.id, 'bootstrap')
  const result = { organisationId: organisation.id, apiKey: key.key }
  fs.mkdirSync(dataDir, { recursive: true })
  const file = path.join(dataDir, 'bootstrap.json')
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600 })
  fs.chmodSync(file, 0o600)
  return result
}
