import { authorize } from '../auth/access.ts'
import type { Principal } from '../auth/principal.ts'
import { writeTransaction, type Db } from '../db/database.ts'
import { findConnector, touchConnector } from '../connectors/connectors.repository.ts'
import { assertIfMatch } from '../http/etag.ts'
import { ApiError } from '../http/errors.ts'
import { paginate, type PageInfo, type PageRequest } from '../http/pagination.ts'
import type { Message } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import { checkVersionName, planVersionUpdate, type Pointers } from './version-rules.ts'
import { toVersionDto, versionEtag } from './versions.dto.ts'
import {
  deleteVersion,
  findPointers,
  findVersionByName,
  insertVersion,
  pinDefault,
  resolveVersion,
  unpinDefault,
  updateVersion,
  versionsListing,
  type VersionRecord,
} from './versions.repository.ts'
import type { ConnectorVersion, ConnectorVersionCreate, ConnectorVersionUpdate } from './versions.schemas.ts'

export interface VersionTarget {
  organisationId: string
  connectorId: string
  version: string
}

async function requireConnector(db: Db, organisationId: string, connectorId: string): Promise<void> {
  if (!(await findConnector(db, organisationId, connectorId))) throw new ApiError('connector_not_found')
}

/** Opens a write transaction holding the connector's lock; 404 when the connector is not the organisation's. */
function withConnectorLocked<T>(db: Db, organisationId: string, connectorId: string, work: (tx: Db) => Promise<T>): Promise<T> {
  return writeTransaction(db, async (tx) => {
    if (!(await tx.dialect.lockConnector(tx.kysely, organisationId, connectorId))) throw new ApiError('connector_not_found')
    return work(tx)
  })
}

async function requireVersion(db: Db, connectorId: string, ref: string): Promise<{ version: VersionRecord; pointers: Pointers }> {
  const found = await resolveVersion(db, connectorId, ref)
  if (!found) {
    throw new ApiError('version_not_found', { message: `Connector version "${ref}" does not exist or the alias resolves to no version.` })
  }
  return found
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
      if (body.fromVersion !== undefined) {
        const source = await resolveVersion(tx, target.connectorId, body.fromVersion)
        if (!source) {
          throw new ApiError('unknown_version', {
            message: `fromVersion "${body.fromVersion}" does not name a version of this connector.`,
            fields: [{ field: 'fromVersion', message: 'does not exist' }],
          })
        }
        description = source.version.description
      }
      if (await findVersionByName(tx, target.connectorId, body.name)) throw nameConflict(body.name)
      const version = await insertVersion(tx, { connectorId: target.connectorId, name: body.name, description })
      await touchConnector(tx, target.connectorId)
      return dtoAfterChange(tx, version, [])
    })
  } catch (error) {
    // Two creators racing past the existence check: the unique key decides.
    if (db.dialect.isUniqueViolation(error)) throw nameConflict(body.name)
    throw error
  }
}

export async function getVersion(registry: Registry, principal: Principal, target: VersionTarget): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  await requireConnector(db, target.organisationId, target.connectorId)
  const { version, pointers } = await requireVersion(db, target.connectorId, target.version)
  return toVersionDto(version, pointers)
}

export async function listVersions(
  registry: Registry,
  principal: Principal,
  target: Omit<VersionTarget, 'version'>,
  page: PageRequest,
): Promise<{ items: ConnectorVersion[]; pageInfo: PageInfo }> {
  authorize(principal, target.organisationId, 'read')
  const { db } = registry
  await requireConnector(db, target.organisationId, target.connectorId)
  const [{ rows, pageInfo }, pointers] = await Promise.all([
    paginate(registry.cursors, versionsListing(db, target.connectorId), page),
    findPointers(db, target.connectorId),
  ])
  return { items: rows.map((v) => toVersionDto(v, pointers)), pageInfo }
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
    return await withConnectorLocked(db, target.organisationId, target.connectorId, async (tx) => {
      const { version, pointers } = await requireVersion(tx, target.connectorId, target.version)
      assertIfMatch(ifMatch, versionEtag(toVersionDto(version, pointers)))
      const plan = planVersionUpdate(version, pointers, body)
      if (plan.name !== undefined && (await findVersionByName(tx, target.connectorId, plan.name))) throw nameConflict(plan.name)
      const updated = await updateVersion(tx, version.id, {
        ...(plan.name !== undefined ? { name: plan.name } : {}),
        description: plan.description,
      })
      if (plan.defaultChange === 'pin') await pinDefault(tx, target.connectorId, version.id)
      if (plan.defaultChange === 'unpin') await unpinDefault(tx, target.connectorId)
      await touchConnector(tx, target.connectorId)
      return dtoAfterChange(tx, updated, plan.messages)
    })
  } catch (error) {
    if (db.dialect.isUniqueViolation(error)) throw nameConflict(body.name)
    throw error
  }
}

export async function deleteConnectorVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  options: { force: boolean; ifMatch: string | undefined },
): Promise<void> {
  authorize(principal, target.organisationId, 'write')
  await withConnectorLocked(registry.db, target.organisationId, target.connectorId, async (tx) => {
    const { version, pointers } = await requireVersion(tx, target.connectorId, target.version)
    assertIfMatch(options.ifMatch, versionEtag(toVersionDto(version, pointers)))
    if (version.publishedAt !== null && !options.force) {
      throw new ApiError('version_published', {
        message: 'A published version can only be deleted with force=true; unpublish it first or pass force.',
      })
    }
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
  return withConnectorLocked(registry.db, target.organisationId, target.connectorId, async (tx) => {
    const { version, pointers } = await requireVersion(tx, target.connectorId, target.version)
    assertIfMatch(ifMatch, versionEtag(toVersionDto(version, pointers)))
    if (version.publishedAt !== null) {
      throw new ApiError('version_already_published', { message: `Version "${version.name}" is already published.` })
    }
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
    return toVersionDto(published, after, messages)
  })
}

export async function unpublishVersion(
  registry: Registry,
  principal: Principal,
  target: VersionTarget,
  ifMatch: string | undefined,
): Promise<ConnectorVersion> {
  authorize(principal, target.organisationId, 'write')
  return withConnectorLocked(registry.db, target.organisationId, target.connectorId, async (tx) => {
    const { version, pointers } = await requireVersion(tx, target.connectorId, target.version)
    assertIfMatch(ifMatch, versionEtag(toVersionDto(version, pointers)))
    if (version.publishedAt === null) {
      throw new ApiError('version_not_published', { message: `Version "${version.name}" is a draft; there is nothing to unpublish.` })
    }
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
