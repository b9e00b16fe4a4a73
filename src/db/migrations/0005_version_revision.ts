import type { Kysely } from 'kysely'

// Frozen once landed. A counter that moves with every change to a version or its content, so
// what is derived from the content (the validation summary) can be cached per revision.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('connector_versions')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('connector_versions').dropColumn('revision').execute()
}
