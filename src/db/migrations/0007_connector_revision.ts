import type { Kysely } from 'kysely'

// Frozen once landed. A counter that moves in the same transaction as every change to a
// connector, its labels, its versions or its version pointers, so a connector's representation
// (which embeds all of those) can be cached per revision and validated with one indexed read.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('connectors')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('connectors').dropColumn('revision').execute()
}
