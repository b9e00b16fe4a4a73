import { authorize } from '../auth/access.ts'
import type { Principal } from '../auth/principal.ts'
import { connectorExists } from '../connectors/connectors.repository.ts'
import { writeTransaction, type Db } from '../db/database.ts'
import { ApiError } from '../http/errors.ts'
import { paginate, type PageInfo, type PageRequest } from '../http/pagination.ts'
import type { Registry } from '../registry.ts'
import { aliasOf } from '../versions/version-rules.ts'
import { findPointers, findVersionByName, listVersionsOf, resolveVersion } from '../versions/versions.repository.ts'
import { protectedVersionId } from './subscriptions.guards.ts'
import {
  deleteSubscription as deleteSubscriptionRow,
  findSubscription,
  subscriptionsListing,
  upsertSubscription,
  type SubscriptionRecord,
} from './subscriptions.repository.ts'
import type { Subscription, SubscriptionBody } from './subscriptions.schemas.ts'

export interface SubscriptionTarget {
  organisationId: string
  connectorId: string
}

async function toDtos(db: Db, connectorId: string, records: SubscriptionRecord[]): Promise<Subscription[]> {
  if (records.length === 0) return []
  const [pointers, { versions }] = await Promise.all([findPointers(db, connectorId), listVersionsOf(db, [connectorId])])
  const names = new Map(versions.map((v) => [v.id, v.name]))
  return records.map((s) => {
    const id = protectedVersionId(s, pointers)
    const name = id === null ? undefined : names.get(id)
    return {
      subscriber: s.subscriber,
      version: s.alias ?? s.versionName ?? '',
      resolvedVersion: id !== null && name !== undefined ? { id, name } : null,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    }
  })
}

function lockConnector<T>(db: Db, target: SubscriptionTarget, work: (tx: Db) => Promise<T>): Promise<T> {
  return writeTransaction(db, async (tx) => {
    if (!(await tx.dialect.lockConnector(tx, target.organisationId, target.connectorId))) throw new ApiError('connector_not_found')
    return work(tx)
  })
}

/** PUT: subscribe (201) or change the version subscribed to (200). */
export async function putSubscription(
  registry: Registry,
  principal: Principal,
  target: SubscriptionTarget,
  subscriber: string,
  body: SubscriptionBody,
): Promise<{ subscription: Subscription; created: boolean }> {
  authorize(principal, target.organisationId, 'write')
  return lockConnector(registry.db, target, async (tx) => {
    const alias = aliasOf(body.version)
    let versionId: string | null = null
    if (alias) {
      if (!(await resolveVersion(tx, target.connectorId, alias))) {
        throw new ApiError('unknown_version', {
          message: `The alias "${alias}" resolves to no version of this connector yet; publish a version first.`,
          fields: [{ field: 'version', message: 'resolves to no version' }],
        })
      }
    } else {
      const version = await findVersionByName(tx, target.connectorId, body.version)
      if (!version) {
        throw new ApiError('unknown_version', {
          message: `Version "${body.version}" does not exist for this connector.`,
          fields: [{ field: 'version', message: 'does not exist' }],
        })
      }
      versionId = version.id
    }
    const { created } = await upsertSubscription(tx, { connectorId: target.connectorId, subscriber, alias: alias ?? null, versionId })
    const record = (await findSubscription(tx, target.connectorId, subscriber))!
    return { subscription: (await toDtos(tx, target.connectorId, [record]))[0]!, created }
  })
}

export async function deleteSubscription(
  registry: Registry,
  principal: Principal,
  target: SubscriptionTarget,
  subscriber: string,
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await lockConnector(registry.db, target, async (tx) => {
    if (!(await deleteSubscriptionRow(tx, target.connectorId, subscriber))) {
      throw new ApiError('subscription_not_found', { message: `"${subscriber}" has no subscription to this connector.` })
    }
  })
}

export async function listSubscriptions(
  registry: Registry,
  principal: Principal,
  target: SubscriptionTarget,
  page: PageRequest,
): Promise<{ items: Subscription[]; pageInfo: PageInfo }> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  if (!(await connectorExists(db, target.organisationId, target.connectorId))) throw new ApiError('connector_not_found')
  const { rows, pageInfo } = await paginate(registry.cursors, subscriptionsListing(db, target.connectorId), page)
  return { items: await toDtos(db, target.connectorId, rows), pageInfo }
}
