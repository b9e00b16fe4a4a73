import type { Db } from '../db/database.ts'
import { ApiError } from '../http/errors.ts'
import { effectiveDefaultId, type Pointers } from '../versions/version-rules.ts'
import { allSubscriptions, type SubscriptionRecord } from './subscriptions.repository.ts'

/**
 * Guards for the version and connector services (which have done the access checks): a
 * subscribed version cannot be unpublished or deleted, nor a subscribed connector deleted.
 */

/** The version a subscription protects now: its version, or what its alias resolves to. */
export function protectedVersionId(subscription: SubscriptionRecord, pointers: Pointers): string | null {
  if (subscription.alias === null) return subscription.versionId
  return subscription.alias === 'latest' ? pointers.latestId : effectiveDefaultId(pointers)
}

function describe(subscriptions: SubscriptionRecord[]): string {
  return subscriptions.map((s) => s.subscriber).join(', ')
}

/** 409 `version_subscribed` when a subscription (by name, or by an alias resolving to it) protects the version. */
export async function assertVersionUnsubscribed(
  db: Db,
  connectorId: string,
  version: { id: string; name: string },
  pointers: Pointers,
  change: 'unpublished' | 'deleted',
): Promise<void> {
  const subscribers = (await allSubscriptions(db, connectorId)).filter((s) => protectedVersionId(s, pointers) === version.id)
  if (subscribers.length === 0) return
  throw new ApiError('version_subscribed', {
    message:
      `Version "${version.name}" cannot be ${change}: ${subscribers.length} subscriber${subscribers.length === 1 ? ' uses' : 's use'} it ` +
      `(listed in details)${change === 'deleted' ? '; pass force=true to delete it anyway' : ''}.`,
    details: describe(subscribers),
  })
}

/** 409 `connector_subscribed` when any subscription to the connector exists. */
export async function assertConnectorUnsubscribed(db: Db, connectorId: string): Promise<void> {
  const subscribers = await allSubscriptions(db, connectorId)
  if (subscribers.length === 0) return
  throw new ApiError('connector_subscribed', {
    message: `The connector has ${subscribers.length} subscriber${subscribers.length === 1 ? '' : 's'} (listed in details); pass force=true to delete it anyway.`,
    details: describe(subscribers),
  })
}
