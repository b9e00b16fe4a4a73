import type { Db } from './database.ts'

/**
 * Server-wide values that must be the same on every replica and survive restarts (the cursor
 * signing secret, the bootstrap marker). The first writer wins; everyone reads the winner.
 */
export async function getOrCreateSetting(db: Db, key: string, create: () => string): Promise<{ value: string; created: boolean }> {
  const candidate = create()
  const inserted = await db.kysely
    .insertInto('registry_settings')
    .values({ key, value: candidate })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('value')
    .executeTakeFirst()
  if (inserted) return { value: inserted.value, created: true }
  const row = await db.kysely.selectFrom('registry_settings').select('value').where('key', '=', key).executeTakeFirstOrThrow()
  return { value: row.value, created: false }
}
