import { authorize } from '../auth/access.ts'
import type { Principal } from '../auth/principal.ts'
import { writeTransaction, type Db } from '../db/database.ts'
import { connectorRevision, touchConnector } from '../connectors/connectors.repository.ts'
import { assertIfMatch } from '../http/etag.ts'
import { ApiError } from '../http/errors.ts'
import { paginate, type PageRequest } from '../http/pagination.ts'
import type { Representation } from '../http/representation.ts'
import type { Message } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import { assertPublishable, contentMessages, copyVersionContent } from '../content/content.hooks.ts'
import { assertVersionUnsubscribed } from '../subscriptions/subscriptions.guards.ts'
import { checkVersionName, planVersionUpdate, type Pointers, type UpdatePlan } from './version-rules.ts'
import { versionPageRepresentation, versionRepresentation } from './version-json.ts'
import { toVersionDto, versionEtag } from './versions.dto.ts'
import {
  deleteVersion,
  findConnectorPointers,
  findPointers,
  findVersionAndPointers,
  findVersionByName,
  insertVersion,
  pinDefault,
  resolveVersion,
  unpinDefault,
  updateVersion,
  updateVersionIfCurrent,
  versionsListing,
  type VersionRecord,
} from './versions.repository.ts'
import type { ConnectorVersion, ConnectorVersionCreate, ConnectorVersionUpdate } from './versions.schemas.ts'

export interface VersionTarget {
  organisationId: string
  connectorId: string
  version: string
}


/** Opens a write transaction holding the connector's lock; 404 when the connector is not the organisation's. */
function withConnectorLocked<T>(db: Db, organisationId: string, connectorId: string, work: (tx: Db) => Promise<T>): Promise<T> {
  return writeTransaction(db, async (tx) => {
    if (!(await tx.dialect.lockConnector(tx, organisationId, connectorId))) throw new ApiError('connector_not_found')
    return work(tx)
  })
}

function versionNotFound(ref: string): ApiError {
  return new ApiError('version_not_found', { message: `Connector version "${ref}" does not exist or the alias resolves to no version.` })
}

/**
 * The version a `{version}` segment resolves to, from findVersionAndPointers' answer: 404 for a
 * connector that is not the organisation's or a version that does not resolve, 412 when If-Match
 * does not match the version's current ETag.
 */
function resolvedTarget(
  found: Awaited<ReturnType<typeof findVersionAndPointers>>,
  target: VersionTarget,
  ifMatch: string | undefined,
): { version: VersionRecord; pointers: Pointers; connectorRevision: number } {
  if (!found) throw new ApiError('connector_not_found')
  const { version, pointers, connectorRevision } = found
  if (!version) throw versionNotFound(target.version)
  if (ifMatch !== undefined) assertIfMatch(ifMatch, versionEtag(toVersionDto(version, pointers)))
  return { version, pointers, connectorRevision }
}

/**
 * Opens a write transaction holding the connector's lock and resolves the target version in
 * it (see resolvedTarget). The lock, the connector check and the read are one query on SQLite.
 */
function withVersionLocked<T>(
  db: Db,
  target: VersionTarget,
  ifMatch: string | undefined,
  work: (tx: Db, found: { version: VersionRecord; pointers: Pointers }) => Promise<T>,
): Promise<T> {
  return writeTransaction(db, async (tx) => {
    await tx.dialect.lockConnectorUnchecked(tx, target.organisationId, target.connectorId)
    const found = await findVersionAndPointers(tx, target.connectorId, target.version, target.organisationId)
    return work(tx, resolvedTarget(found, target, ifMatch))
  })
}

async function dtoAfterChange(db: Db, version: VersionRecord, messages: Message[]): Promise<ConnectorVersion> {
  return toVersionDto(version, await findPointers(db, version.connectorId), messages)
}

function nameConflict(name: string): ApiError {
  return new ApiError('version_name_conflict', {
    message: `Version "${name}" already exists for this connector.`,
    fields: [{ field: 'name', message: 'is already used by another version' }],
  })
}

export async function createVersion(
  registry: Registry,
  principal: Principal,
  target: Omit<VersionTarget, 'version'>,
  body: ConnectorVersionCreate,
): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'write')
  checkVersionName(body.name)
  const { db } = registry
  try {
    return await withConnectorLocked(db, target.organisationId, target.connectorId, async (tx) => {
      let description: string | null = null
      let sourceId: string | undefined
      if (body.fromVersion !== undefined) {
        const source = await resolveVersion(tx, target.connectorId, body.fromVersion)
        if (!source) {
          throw new ApiError('unknown_version', {
            message: `fromVersion "${body.fromVersion}" does not name a version of this connector.`,
            fields: [{ field: 'fromVersion', message: 'does not exist' }],
          })
        }
        description = source.version.description
        sourceId = source.version.id
      }
      if (await findVersionByName(tx, target.connectorId, body.name)) throw nameConflict(body.name)
      const version = await insertVersion(tx, { connectorId: target.connectorId, name: body.name, description })
      // Actions, triggers, definitions and their references are copied in the same transaction.
      if (sourceId !== undefined) await copyVersionContent(tx, sourceId, version.id)
      await touchConnector(tx, target.connectorId)
      return dtoAfterChange(tx, version, [])
    })
  } catch (error) {
    // Two creators racing past the existence check: the unique key decides.
    if (db.dialect.isUniqueViolation(error)) throw nameConflict(body.name)
    throw error
  }
}

/**
 * GetConnectorVersion. The body is cached per connector revision, which moves with every change
 * to any version, the pointers or content: a hit costs one indexed read of the revision, and
 * on SQLite not even that while the database has not changed (read-memo.ts).
 */
export async function getVersion(registry: Registry, principal: Principal, target: VersionTarget): Promise<Representation> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  const key = `version:${target.connectorId}:${target.version}`
  const revision = await connectorRevision(db, target.organisationId, target.connectorId)
  if (revision === undefined) throw new ApiError('connector_not_found')
  const cached = registry.representations.get(key, revision)
  if (cached) return cached
  // Connector check, pointers, version and the connector revision in one statement: consistent.
  const found = await findVersionAndPointers(db, target.connectorId, target.version, target.organisationId)
  if (!found) throw new ApiError('connector_not_found')
  const { version, pointers, connectorRevision: readAt } = found
  if (!version) throw versionNotFound(target.version)
  const representation = versionRepresentation(toVersionDto(version, pointers, await contentMessages(registry, version)))
  registry.representations.set(key, readAt, representation)
  return representation
}

/** ListConnectorVersions; pages are cached per connector revision and page request like versions. */
export async function listVersions(
  registry: Registry,
  principal: Principal,
  target: Omit<VersionTarget, 'version'>,
  page: PageRequest,
): Promise<Representation> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  const key = `versions:${target.connectorId}:${page.first}:${page.after ?? ''}:${page.before ?? ''}`
  // A hit reads only the revision; the pointers and the total are needed only to build a page.
  const revision = await connectorRevision(db, target.organisationId, target.connectorId)
  if (revision === undefined) throw new ApiError('connector_not_found')
  const cached = registry.representations.get(key, revision)
  if (cached) return cached
  // The connector check, its pointers, the listing's total and the revision in one round trip.
  const head = await findConnectorPointers(db, target.organisationId, target.connectorId)
  if (!head) throw new ApiError('connector_not_found')
  const { pointers, versionCount, connectorRevision: readAt } = head
  const { rows, pageInfo } = await paginate(registry.cursors, versionsListing(db, target.connectorId, versionCount), page)
  const representation = versionPageRepresentation(pageInfo, rows.map((v) => toVersionDto(v, pointers)))
  // The page came from a second statement: cache it only if nothing changed in between.
  if ((await connectorRevision(db, target.organisationId, target.connectorId)) === readAt) {
    registry.representations.set(key, readAt, representation)
  }
  return representation
}

export async function updateConnectorVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  body: ConnectorVersionUpdate,
  ifMatch: string | undefined,
): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'write')
  const { db } = registry
  try {
    // Where the compare-and-set is one statement (PostgreSQL) it saves four of six round trips.
    // SQLite's lock is its write transaction itself and its statements are no round trips:
    // reading ahead of the lock only added work there (7-11 µs of CPU per update, measured).
    const unlocked = db.dialect.writesInWith ? await updateUnlessChanged(db, target, body, ifMatch) : undefined
    return unlocked ?? (await updateLocked(db, target, body, ifMatch))
  } catch (error) {
    if (db.dialect.isUniqueViolation(error)) throw nameConflict(body.name)
    throw error
  }
}

/** The version row's changes an update plan makes (the pin lives in connector_defaults). */
function changesOf(plan: UpdatePlan): { name?: string; description: string | null } {
  return { ...(plan.name !== undefined ? { name: plan.name } : {}), description: plan.description }
}

/**
 * UpdateConnectorVersion without a lock: read the version and pointers, decide, then write only
 * if the connector's revision has not moved since (every change to a version, the pointers or
 * content moves it, so the decision still holds). Two round trips on PostgreSQL instead of the
 * locked path's six. Undefined when the revision moved or the write failed transiently (the
 * caller then takes the locked path, which cannot lose that race and retries), and for a change
 * of the pinned default, which writes another table. Errors answer the state as read.
 */
async function updateUnlessChanged(
  db: Db,
  target: VersionTarget,
  body: ConnectorVersionUpdate,
  ifMatch: string | undefined,
): Promise<ConnectorVersion | undefined> {
  const found = await findVersionAndPointers(db, target.connectorId, target.version, target.organisationId)
  const { version, pointers, connectorRevision } = resolvedTarget(found, target, ifMatch)
  const plan = planVersionUpdate(version, pointers, body)
  if (plan.defaultChange !== undefined) return undefined
  try {
    // A rename to a taken name fails on the unique key, with nothing written.
    const updated = await updateVersionIfCurrent(
      db,
      { connectorId: target.connectorId, expectedRevision: connectorRevision, versionId: version.id },
      changesOf(plan),
    )
    return updated && toVersionDto(updated, pointers, plan.messages)
  } catch (error) {
    if (db.dialect.isTransient(error)) return undefined
    throw error
  }
}

/** UpdateConnectorVersion holding the connector's lock: for changes of the pin, and after a lost race. */
function updateLocked(db: Db, target: VersionTarget, body: ConnectorVersionUpdate, ifMatch: string | undefined): Promise<ConnectorVersion> {
  return withVersionLocked(db, target, ifMatch, async (tx, { version, pointers }) => {
    const plan = planVersionUpdate(version, pointers, body)
    if (plan.name !== undefined && (await findVersionByName(tx, target.connectorId, plan.name))) throw nameConflict(plan.name)
    const updated = await updateVersion(tx, version.id, changesOf(plan))
    if (plan.defaultChange === 'pin') await pinDefault(tx, target.connectorId, version.id)
    if (plan.defaultChange === 'unpin') await unpinDefault(tx, target.connectorId)
    await touchConnector(tx, target.connectorId)
    // Under the lock only the pin can have moved (an update never publishes): no re-read.
    const after: Pointers =
      plan.defaultChange === 'pin'
        ? { ...pointers, pinnedDefaultId: version.id }
        : plan.defaultChange === 'unpin'
          ? { ...pointers, pinnedDefaultId: null }
          : pointers
    return toVersionDto(updated, after, plan.messages)
  })
}

export async function deleteConnectorVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  options: { force: boolean; ifMatch: string | undefined },
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await withVersionLocked(registry.db, target, options.ifMatch, async (tx, { version, pointers }) => {
    if (version.publishedAt !== null && !options.force) {
      throw new ApiError('version_published', {
        message: 'A published version can only be deleted with force=true; unpublish it first or pass force.',
      })
    }
    if (!options.force) await assertVersionUnsubscribed(tx, target.connectorId, version, pointers, 'deleted')
    await deleteVersion(tx, version.id)
    await touchConnector(tx, target.connectorId)
  })
}

export async function publishVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  ifMatch: string | undefined,
): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'write')
  return withVersionLocked(registry.db, target, ifMatch, async (tx, { version }) => {
    if (version.publishedAt !== null) {
      throw new ApiError('version_already_published', { message: `Version "${version.name}" is already published.` })
    }
    // Content with validation errors cannot be published (400 version_invalid); warnings are reported.
    const validation = await assertPublishable(tx, version)
    const published = await updateVersion(tx, version.id, { published: true })
    await touchConnector(tx, target.connectorId)
    const after = await findPointers(tx, target.connectorId)
    const messages: Message[] = []
    if (after.latestId === published.id) {
      messages.push({ text: `Version "${published.name}" is published and is now the latest version.`, severity: 'info' })
    }
    if (after.pinnedDefaultId !== null) {
      messages.push({ text: 'The default version is pinned to another version and did not change.', severity: 'info' })
    }
    return toVersionDto(published, after, [...messages, ...validation])
  })
}

export async function unpublishVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  ifMatch: string | undefined,
): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'write')
  return withVersionLocked(registry.db, target, ifMatch, async (tx, { version, pointers }) => {
    if (version.publishedAt === null) {
      throw new ApiError('version_not_published', { message: `Version "${version.name}" is a draft; there is nothing to unpublish.` })
    }
    await assertVersionUnsubscribed(tx, target.connectorId, version, pointers, 'unpublished')
    const messages: Message[] = []
    if (pointers.pinnedDefaultId === version.id) {
      await unpinDefault(tx, target.connectorId)
      messages.push({
        text: `Version "${version.name}" was the pinned default; the pin is cleared and the default now follows the latest published version.`,
        severity: 'warning',
      })
    }
    const unpublished = await updateVersion(tx, version.id, { published: false })
    await touchConnector(tx, target.connectorId)
    return dtoAfterChange(tx, unpublished, messages)
  })
}
