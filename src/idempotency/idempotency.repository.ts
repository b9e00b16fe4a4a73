import type { Db } from '../db/database.ts'

export interface StoredResponse {
  statusCode: number
  body: string
  etag: string | null
}

export type ClaimResult =
  | { outcome: 'claimed' }
  | { outcome: 'mismatch' }
  | { outcome: 'in-progress' }
  | { outcome: 'replay'; response: StoredResponse }

export interface IdempotencyTimes {
  /** ISO time before which stored responses are expired. */
  expiredBefore: string
  now: string
  leaseUntil: string
}

/**
 * Claims an (organisation, key) pair for one request, or reports what happened to the first
 * request with that key. Expired records and abandoned claims (holder crashed) are taken over.
 */
export async function claim(
  db: Db,
  organisationId: string,
  key: string,
  fingerprint: string,
  times: IdempotencyTimes,
): Promise<ClaimResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await db.kysely
      .insertInto('idempotency_keys')
      .values({
        organisation_id: organisationId,
        idempotency_key: key,
        fingerprint,
        created_at: times.now,
        locked_until: times.leaseUntil,
        status_code: null,
        response_body: null,
        response_etag: null,
      })
      .onConflict((oc) => oc.columns(['organisation_id', 'idempotency_key']).doNothing())
      .returning('idempotency_key')
      .executeTakeFirst()
    if (inserted) return { outcome: 'claimed' }

    const row = await db.kysely
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('organisation_id', '=', organisationId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst()
    if (!row) continue // deleted in between: try to insert again
    if (row.created_at < times.expiredBefore) {
      await db.kysely
        .deleteFrom('idempotency_keys')
        .where('organisation_id', '=', organisationId)
        .where('idempotency_key', '=', key)
        .where('created_at', '=', row.created_at)
        .execute()
      continue
    }
    if (row.fingerprint !== fingerprint) return { outcome: 'mismatch' }
    if (row.status_code !== null && row.response_body !== null) {
      return { outcome: 'replay', response: { statusCode: row.status_code, body: row.response_body, etag: row.response_etag } }
    }
    if (row.locked_until >= times.now) return { outcome: 'in-progress' }
    // The first holder's lease ran out without a response (it crashed): take the claim over.
    const taken = await db.kysely
      .updateTable('idempotency_keys')
      .set({ locked_until: times.leaseUntil })
      .where('organisation_id', '=', organisationId)
      .where('idempotency_key', '=', key)
      .where('status_code', 'is', null)
      .where('locked_until', '=', row.locked_until)
      .executeTakeFirst()
    if (Number(taken.numUpdatedRows) === 1) return { outcome: 'claimed' }
  }
  return { outcome: 'in-progress' }
}

export async function complete(db: Db, organisationId: string, key: string, response: StoredResponse): Promise<void> {
  await db.kysely
    .updateTable('idempotency_keys')
    .set({ status_code: response.statusCode, response_body: response.body, response_etag: response.etag })
    .where('organisation_id', '=', organisationId)
    .where('idempotency_key', '=', key)
    .execute()
}

export async function release(db: Db, organisationId: string, key: string): Promise<void> {
  await db.kysely
    .deleteFrom('idempotency_keys')
    .where('organisation_id', '=', organisationId)
    .where('idempotency_key', '=', key)
    .where('status_code', 'is', null)
    .execute()
}

export async function purgeExpired(db: Db, expiredBefore: string): Promise<void> {
  await db.kysely.deleteFrom('idempotency_keys').where('created_at', '<', expiredBefore).execute()
}
