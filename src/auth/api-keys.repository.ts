import type { Db } from '../db/database.ts'

export interface ApiKeyRecord {
  id: string
  organisationId: string
  name: string
  secretHash: string
  createdAt: string
  revokedAt: string | null
  scope: 'read' | 'write'
  expiresAt: string | null
}

type Row = {
  id: string
  organisation_id: string
  name: string
  secret_hash: string
  created_at: string
  revoked_at: string | null
  scope: 'read' | 'write'
  expires_at: string | null
}

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    name: row.name,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    scope: row.scope,
    expiresAt: row.expires_at,
  }
}

export async function insertApiKey(
  db: Db,
  key: { id: string; organisationId: string; name: string; secretHash: string; scope: 'read' | 'write'; expiresAt: string | null },
): Promise<ApiKeyRecord> {
  const row = await db.kysely
    .insertInto('api_keys')
    .values({
      id: key.id,
      organisation_id: key.organisationId,
      name: key.name,
      secret_hash: key.secretHash,
      scope: key.scope,
      expires_at: key.expiresAt,
      created_at: db.dialect.now(),
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toRecord(row)
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyRecord | undefined> {
  const row = await db.kysely.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst()
  return row && toRecord(row)
}

export async function listApiKeys(db: Db, organisationId: string): Promise<ApiKeyRecord[]> {
  const rows = await db.kysely
    .selectFrom('api_keys')
    .selectAll()
    .where('organisation_id', '=', organisationId)
    .orderBy('id')
    .execute()
  return rows.map(toRecord)
}

/** Returns false when no such key exists; revoking twice keeps the first revocation time. */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const key = await findApiKey(db, id)
  if (!key) return false
  if (key.revokedAt === null) {
    await db.kysely
      .updateTable('api_keys')
      .set({ revoked_at: db.dialect.now() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute()
  }
  return true
}
