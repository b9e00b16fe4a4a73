import type { Generated } from 'kysely'

/**
 * Row types of every table. They never leave the repositories: services and routes work
 * with the domain types each repository returns.
 *
 * Timestamps are ISO-8601 UTC strings with millisecond precision produced by the database
 * clock (see dialect.ts), so they sort lexicographically and read identically on both
 * dialects. Booleans are stored as 0/1 integers for the same reason.
 */
export interface OrganisationsTable {
  id: string
  name: string
  created_at: string
}

export interface ApiKeysTable {
  id: string
  organisation_id: string
  name: string
  secret_hash: string
  created_at: string
  revoked_at: string | null
  scope: Generated<'read' | 'write'>
  expires_at: string | null
}

export interface ConnectorsTable {
  id: string
  organisation_id: string
  name: string
  protocol: string
  base_url: string
  is_public: number
  documentation_url: string | null
  image_url: string | null
  auth_scheme_configs: string
  connection_variables: string
  created_at: string
  updated_at: string
  /** Moves with every change to the connector, its labels, versions or pointers (migration 0007). */
  revision: Generated<number>
}

export interface ConnectorTagsTable {
  connector_id: string
  tag_key: string
  /** null marks a key without values: `{"beta": []}` */
  tag_value: string | null
  position: number
}

export interface ConnectorCategoriesTable {
  connector_id: string
  category: string
}

export interface ConnectorVersionsTable {
  id: string
  connector_id: string
  name: string
  description: string | null
  published_at: string | null
  created_at: string
  updated_at: string
  /** Moves with every change to the version or its content (migration 0005). */
  revision: Generated<number>
}

/** At most one row per connector: the version the user pinned as `default`. */
export interface ConnectorDefaultsTable {
  connector_id: string
  version_id: string
}

export interface RegistrySettingsTable {
  key: string
  value: string
}

export interface IdempotencyKeysTable {
  organisation_id: string
  idempotency_key: string
  fingerprint: string
  created_at: string
  locked_until: string
  status_code: number | null
  response_body: string | null
  response_etag: string | null
}

export interface ConnectorDefinitionsTable {
  id: string
  version_id: string
  name: string
  description: string | null
  /** JSON array of media types. */
  accept: string
  schema_content_type: string
  schema_content: string
  created_at: string
  updated_at: string
}

/** connector_actions and connector_triggers: the body is opaque JSON text. */
export interface ConnectorOperationsTable {
  id: string
  version_id: string
  name: string
  type: 'http'
  body: string
  created_at: string
  updated_at: string
}

/** A reference from exactly one of action / trigger / definition to a definition. */
export interface ContentReferencesTable {
  id: string
  version_id: string
  action_id: string | null
  trigger_id: string | null
  source_definition_id: string | null
  slot: string
  position: number
  /** null once the referenced definition was force-deleted (a dangling reference). */
  definition_id: string | null
  target_id: string
  target_name: string
}

export interface ConnectorSubscriptionsTable {
  connector_id: string
  subscriber: string
  alias: 'latest' | 'default' | null
  version_id: string | null
  created_at: string
  updated_at: string
}

export interface Database {
  organisations: OrganisationsTable
  api_keys: ApiKeysTable
  connectors: ConnectorsTable
  connector_tags: ConnectorTagsTable
  connector_categories: ConnectorCategoriesTable
  connector_versions: ConnectorVersionsTable
  connector_defaults: ConnectorDefaultsTable
  registry_settings: RegistrySettingsTable
  idempotency_keys: IdempotencyKeysTable
  connector_definitions: ConnectorDefinitionsTable
  connector_actions: ConnectorOperationsTable
  connector_triggers: ConnectorOperationsTable
  content_references: ContentReferencesTable
  connector_subscriptions: ConnectorSubscriptionsTable
}

export type { Generated }
