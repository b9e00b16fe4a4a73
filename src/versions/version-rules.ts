import { ApiError, type ErrorField } from '../http/errors.ts'
import type { Message } from '../http/schemas.ts'
import type { ConnectorVersionUpdate } from './versions.schemas.ts'

/**
 * The version rules as plain functions over data: naming, alias resolution, the latest and
 * default pointers, and what an update may change.
 */

export type Alias = 'latest' | 'default'

export function aliasOf(ref: string): Alias | undefined {
  const lower = ref.toLowerCase()
  return lower === 'latest' || lower === 'default' ? lower : undefined
}

// Printable: no control, format, surrogate, private-use or unassigned code points.
const NAME = /^[^\p{C}/]{1,128}$/u

export function checkVersionName(name: string, field = 'name'): void {
  if (aliasOf(name)) {
    throw new ApiError('reserved_version_name', {
      message: `"${name}" is reserved: "latest" and "default" (in any case) cannot be version names.`,
      fields: [{ field, message: 'is a reserved name' }],
    })
  }
  // "." and ".." are normalised away by many HTTP clients, so such a version could not be addressed.
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new ApiError('invalid_version_name', {
      fields: [{ field, message: 'must be 1-128 printable characters without "/"' }],
    })
  }
}

export interface VersionState {
  id: string
  name: string
  description: string | null
  publishedAt: string | null
  createdAt: string
  updatedAt: string
}

export interface Pointers {
  /** The published version with the greatest publishedAt (ties: greatest id), if any. */
  latestId: string | null
  /** The version the user pinned as default, if any. */
  pinnedDefaultId: string | null
}

export function effectiveDefaultId(pointers: Pointers): string | null {
  return pointers.pinnedDefaultId ?? pointers.latestId
}

/** Latest among a set of versions: greatest publishedAt, ties broken by the greater id. */
export function latestOf<V extends { id: string; publishedAt: string | null }>(versions: readonly V[]): V | undefined {
  let best: V | undefined
  for (const v of versions) {
    if (v.publishedAt === null) continue
    if (!best || v.publishedAt > best.publishedAt! || (v.publishedAt === best.publishedAt && v.id > best.id)) best = v
  }
  return best
}

export interface UpdatePlan {
  name?: string
  description: string | null
  /** 'pin' makes this version the default, 'unpin' clears the pin, undefined leaves it. */
  defaultChange?: 'pin' | 'unpin'
  messages: Message[]
}

function sameInstant(sent: string, stored: string): boolean {
  return Date.parse(sent) === Date.parse(stored)
}

/**
 * Decides what an UpdateConnectorVersion body does to a stored version. Throws the errors the
 * issue prescribes: 400 for read-only fields and bad names/defaults, 409 for edits of published
 * versions. The caller checks name uniqueness (409) and applies the plan.
 */
export function planVersionUpdate(stored: VersionState, pointers: Pointers, body: ConnectorVersionUpdate): UpdatePlan {
  const isLatest = pointers.latestId === stored.id
  const isDefault = effectiveDefaultId(pointers) === stored.id
  const isPinned = pointers.pinnedDefaultId === stored.id
  const published = stored.publishedAt !== null

  const readOnly: ErrorField[] = []
  if (body.id !== undefined && body.id !== stored.id) readOnly.push({ field: 'id', message: 'is read-only' })
  if (body.createdAt !== undefined && !sameInstant(body.createdAt, stored.createdAt)) {
    readOnly.push({ field: 'createdAt', message: 'is read-only' })
  }
  if (body.updatedAt !== undefined && !sameInstant(body.updatedAt, stored.updatedAt)) {
    readOnly.push({ field: 'updatedAt', message: 'is read-only' })
  }
  if (body.publishedAt !== undefined) {
    const same =
      body.publishedAt === null || stored.publishedAt === null
        ? body.publishedAt === stored.publishedAt
        : sameInstant(body.publishedAt, stored.publishedAt)
    if (!same) readOnly.push({ field: 'publishedAt', message: 'is read-only: use publish and unpublish' })
  }
  if (body.isLatest !== undefined && body.isLatest !== isLatest) {
    readOnly.push({ field: 'isLatest', message: 'is read-only: it follows the most recently published version' })
  }
  if (readOnly.length > 0) throw new ApiError('read_only_field', { fields: readOnly })

  const description = body.description ?? null
  const renamed = body.name !== stored.name
  if (renamed) checkVersionName(body.name)
  const changesContent = renamed || description !== stored.description

  if (published && changesContent) {
    const fields: ErrorField[] = []
    if (renamed) fields.push({ field: 'name', message: 'cannot change on a published version' })
    if (description !== stored.description) fields.push({ field: 'description', message: 'cannot change on a published version' })
    throw new ApiError('version_published', {
      message: 'A published version is immutable except isDefault; unpublish it or create a new version.',
      fields,
    })
  }

  const messages: Message[] = []
  let defaultChange: UpdatePlan['defaultChange']
  if (body.isDefault === true) {
    if (!published) {
      throw new ApiError('default_requires_published', { fields: [{ field: 'isDefault', message: 'the version is a draft' }] })
    }
    if (!isPinned) {
      defaultChange = 'pin'
      messages.push({
        text: `Version "${stored.name}" is now the pinned default; publishing newer versions will not change the default.`,
        severity: 'info',
      })
    }
  } else if (body.isDefault === false) {
    if (isPinned) {
      defaultChange = 'unpin'
      messages.push({ text: 'The default is no longer pinned and now follows the latest published version.', severity: 'info' })
    } else if (isDefault) {
      messages.push({
        text: `Version "${stored.name}" stays the default because it is the latest and no default is pinned; pin another published version to change that.`,
        severity: 'warning',
      })
    }
  }

  return {
    ...(renamed ? { name: body.name } : {}),
    description,
    ...(defaultChange ? { defaultChange } : {}),
    messages,
  }
}
