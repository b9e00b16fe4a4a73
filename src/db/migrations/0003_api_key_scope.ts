import { sql, type Kysely } from 'kysely'

// Frozen once landed. API keys get a scope (read-only or read-write) and an optional expiry.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('api_keys')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('write').check(sql`scope in ('read', 'write')`))
    .execute()
  await db.schema.alterTable('api_keys').addColumn('expires_at', 'text').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('expires_at').execute()
  await db.schema.alterTable('api_keys').dropColumn('scope').execute()
}
