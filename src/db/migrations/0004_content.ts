import { sql, type Kysely } from 'kysely'

/**
 * Versioned content (definitions, actions, triggers), the references between them, and
 * subscriptions to connector versions. Frozen once landed.
 *
 * Action and trigger bodies are opaque JSON text; which definitions they (and definitions
 * themselves) reference is a relation with foreign keys, so the database knows what
 * references what: deleting a referencing entity removes its references (cascade), deleting a
 * referenced definition leaves the reference dangling (definition_id set null) with the name
 * it pointed at, which validation reports.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('connector_definitions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('version_id', 'text', (c) => c.notNull().references('connector_versions.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('accept', 'text', (c) => c.notNull())
    .addColumn('schema_content_type', 'text', (c) => c.notNull())
    .addColumn('schema_content', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('connector_definitions_name_unique', ['version_id', 'name'])
    .execute()
  await db.schema.createIndex('connector_definitions_version').on('connector_definitions').columns(['version_id', 'id']).execute()

  for (const table of ['connector_actions', 'connector_triggers']) {
    await db.schema
      .createTable(table)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('version_id', 'text', (c) => c.notNull().references('connector_versions.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('http')`))
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint(`${table}_name_unique`, ['version_id', 'name'])
      .execute()
    await db.schema.createIndex(`${table}_version`).on(table).columns(['version_id', 'id']).execute()
  }

  // One row per link from an action/trigger body (slot = JSON pointer of the list, position
  // within it) or from a definition's schema ($ref) to a definition of the same version.
  await db.schema
    .createTable('content_references')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('version_id', 'text', (c) => c.notNull().references('connector_versions.id').onDelete('cascade'))
    .addColumn('action_id', 'text', (c) => c.references('connector_actions.id').onDelete('cascade'))
    .addColumn('trigger_id', 'text', (c) => c.references('connector_triggers.id').onDelete('cascade'))
    .addColumn('source_definition_id', 'text', (c) => c.references('connector_definitions.id').onDelete('cascade'))
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('definition_id', 'text', (c) => c.references('connector_definitions.id').onDelete('set null'))
    // What the reference pointed at, kept when the definition is force-deleted.
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('target_name', 'text', (c) => c.notNull())
    .addCheckConstraint(
      'content_references_one_source',
      sql`(case when action_id is null then 0 else 1 end) + (case when trigger_id is null then 0 else 1 end) + (case when source_definition_id is null then 0 else 1 end) = 1`,
    )
    .execute()
  await db.schema.createIndex('content_references_version').on('content_references').columns(['version_id', 'target_name']).execute()
  await db.schema.createIndex('content_references_definition').on('content_references').column('definition_id').execute()
  await db.schema.createIndex('content_references_action').on('content_references').column('action_id').execute()
  await db.schema.createIndex('content_references_trigger').on('content_references').column('trigger_id').execute()
  await db.schema.createIndex('content_references_source_definition').on('content_references').column('source_definition_id').execute()

  // A subscriber follows either a version (by id, so renames keep it) or an alias.
  await db.schema
    .createTable('connector_subscriptions')
    .addColumn('connector_id', 'text', (c) => c.notNull().references('connectors.id').onDelete('cascade'))
    .addColumn('subscriber', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.check(sql`alias in ('latest', 'default')`))
    .addColumn('version_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('connector_subscriptions_pk', ['connector_id', 'subscriber'])
    .addForeignKeyConstraint(
      'connector_subscriptions_version_fk',
      ['connector_id', 'version_id'],
      'connector_versions',
      ['connector_id', 'id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addCheckConstraint('connector_subscriptions_target', sql`(alias is null) <> (version_id is null)`)
    .execute()
  await db.schema.createIndex('connector_subscriptions_version').on('connector_subscriptions').column('version_id').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['connector_subscriptions', 'content_references', 'connector_triggers', 'connector_actions', 'connector_definitions']) {
    await db.schema.dropTable(table).execute()
  }
}
