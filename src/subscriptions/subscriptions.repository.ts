import type { Db } from '../db/database.ts'
import type { ConnectorSubscriptionsTable } from '../db/schema.ts'
import type { KeysetSource, SortKey } from '../http/pagination.ts'
import type { Alias } from '../versions/version-rules.ts'

export interface SubscriptionRecord {
  connectorId: string
  subscriber: string
  /** Exactly one of alias and versionId is set. */
  alias: Alias | null
  versionId: string | null
  /** Current name of versionId's version. */
  versionName: string | null
  createdAt: string
  updatedAt: string
}

type Row = ConnectorSubscriptionsTable & { version_name: string | null }

function toRecord(row: Row): SubscriptionRecord {
  return {
    connectorId: row.connector_id,
    subscriber: row.subscriber,
    alias: row.alias,
    versionId: row.version_id,
    versionName: row.version_name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

function selectSubscriptions(db: Db, connectorId: string) {
  return db.kysely
    .selectFrom('connector_subscriptions as s')
    .leftJoin('connector_versions as v', 'v.id', 's.version_id')
    .selectAll('s')
    .select('v.name as version_name')
    .where('s.connector_id', '=', connectorId)
}

/** Creates or replaces a subscription; tells which. */
export async function upsertSubscription(
  db: Db,
  subscription: { connectorId: string; subscriber: string; alias: Alias | null; versionId: string | null },
): Promise<{ created: boolean }> {
  const now = db.dialect.now()
  const updated = await db.kysely
    .updateTable('connector_subscriptions')
    .set({ alias: subscription.alias, version_id: subscription.versionId, updated_at: now })
    .where('connector_id', '=', subscription.connectorId)
    .where('subscriber', '=', subscription.subscriber)
    .executeTakeFirst()
  if (Number(updated.numUpdatedRows) > 0) return { created: false }
  await db.kysely
    .insertInto('connector_subscriptions')
    .values({
      connector_id: subscription.connectorId,
      subscriber: subscription.subscriber,
      alias: subscription.alias,
      version_id: subscription.versionId,
      created_at: now,
      updated_at: now,
    })
    .execute()
  return { created: true }
}

export async function findSubscription(db: Db, connectorId: string, subscriber: string): Promise<SubscriptionRecord | undefined> {
  const row = await selectSubscriptions(db, connectorId).where('s.subscriber', '=', subscriber).executeTakeFirst()
  return row && toRecord(row)
}

export async function deleteSubscription(db: Db, connectorId: string, subscriber: string): Promise<boolean> {
  const result = await db.kysely
    .deleteFrom('connector_subscriptions')
    .where('connector_id', '=', connectorId)
    .where('subscriber', '=', subscriber)
    .executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** Every subscription of a connector, by subscriber. */
export async function allSubscriptions(db: Db, connectorId: string): Promise<SubscriptionRecord[]> {
  return (await selectSubscriptions(db, connectorId).orderBy('s.subscriber').execute()).map(toRecord)
}

const ORDER: SortKey[] = [{ column: 's.subscriber', direction: 'asc' }]

export function subscriptionsListing(db: Db, connectorId: string): KeysetSource<SubscriptionRecord> {
  return {
    keys: ORDER,
    scope: `subscriptions:${connectorId}`,
    valuesOf: (s) => [s.subscriber],
    async fetch(condition, order, limit) {
      let query = selectSubscriptions(db, connectorId)
      if (condition) query = query.where(condition)
      for (const key of order) query = query.orderBy(key.column as 's.subscriber', key.direction)
      return (await query.limit(limit).execute()).map(toRecord)
    },
    async count() {
      const row = await db.kysely
        .selectFrom('connector_subscriptions')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('connector_id', '=', connectorId)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}
