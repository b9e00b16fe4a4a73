import { sql, type Kysely } from 'kysely'

// Frozen once landed: later schema changes go in new migration files.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('organisations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organisation_id', 'text', (c) => c.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute()
  await db.schema.createIndex('api_keys_organisation').on('api_keys').columns(['organisation_id', 'id']).execute()

  await db.schema
    .createTable('connectors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organisation_id', 'text', (c) => c.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('base_url', 'text', (c) => c.notNull())
    .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(0).check(sql`is_public in (0, 1)`))
    .addColumn('documentation_url', 'text')
    .addColumn('image_url', 'text')
    .addColumn('auth_scheme_configs', 'text', (c) => c.notNull())
    .addColumn('connection_variables', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('connectors_org_updated')
    .on('connectors')
    .columns(['organisation_id', 'updated_at', 'id'])
    .execute()
  await db.schema.createIndex('connectors_public_updated').on('connectors').columns(['is_public', 'updated_at', 'id']).execute()

  await db.schema
    .createTable('connector_tags')
    .addColumn('connector_id', 'text', (c) => c.notNull().references('connectors.id').onDelete('cascade'))
    .addColumn('tag_key', 'text', (c) => c.notNull())
    .addColumn('tag_value', 'text')
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('connector_tags_pk', ['connector_id', 'position'])
    .execute()
  await db.schema.createIndex('connector_tags_lookup').on('connector_tags').columns(['tag_key', 'tag_value']).execute()

  await db.schema
    .createTable('connector_categories')
    .addColumn('connector_id', 'text', (c) => c.notNull().references('connectors.id').onDelete('cascade'))
    .addColumn('category', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('connector_categories_pk', ['connector_id', 'category'])
    .execute()
  await db.schema.createIndex('connector_categories_lookup').on('connector_categories').columns(['category']).execute()

  await db.schema
    .createTable('connector_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connector_id', 'text', (c) => c.notNull().references('connectors.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('published_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('connector_versions_name_unique', ['connector_id', 'name'])
    // Target of the composite foreign key from connector_defaults.
    .addUniqueConstraint('connector_versions_connector_id_unique', ['connector_id', 'id'])
    .execute()
  await db.schema
    .createIndex('connector_versions_updated')
    .on('connector_versions')
    .columns(['connector_id', 'updated_at', 'id'])
    .execute()
  await db.schema
    .createIndex('connector_versions_published')
    .on('connector_versions')
    .columns(['connector_id', 'published_at', 'id'])
    .execute()

  // The pinned default: one row per connector at most (primary key), always a version of the
  // same connector (composite foreign key), gone when that version is deleted (cascade).
  await db.schema
    .createTable('connector_defaults')
    .addColumn('connector_id', 'text', (c) => c.primaryKey().references('connectors.id').onDelete('cascade'))
    .addColumn('version_id', 'text', (c) => c.notNull())
    .addForeignKeyConstraint(
      'connector_defaults_version_fk',
      ['connector_id', 'version_id'],
      'connector_versions',
      ['connector_id', 'id'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute()

  await db.schema
    .createTable('registry_settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'registry_settings', 'connector_defaults', 'connector_versions', 'connector_categories',
    'connector_tags', 'connectors', 'api_keys', 'organisations',
  ]) {
    await db.schema.dropTable(table).execute()
  }
}
