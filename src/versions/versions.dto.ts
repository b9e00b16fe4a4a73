import { etagOf } from '../http/etag.ts'
import type { Message } from '../http/schemas.ts'
import { effectiveDefaultId, type Pointers, type VersionState } from './version-rules.ts'
import type { ConnectorVersion } from './versions.schemas.ts'

/** The API representation of a version; isLatest and isDefault are derived, never stored. */
export function toVersionDto(version: VersionState, pointers: Pointers, messages: Message[] = []): ConnectorVersion {
  return {
    id: version.id,
    name: version.name,
    ...(version.description !== null ? { description: version.description } : {}),
    isLatest: pointers.latestId === version.id,
    isDefault: effectiveDefaultId(pointers) === version.id,
    createdAt: version.createdAt,
    updatedAt: version.updatedAt,
    publishedAt: version.publishedAt,
    messages,
  }
}

/** ETag over everything but the per-request messages. */
export function versionEtag(dto: ConnectorVersion): string {
  const { messages: _messages, ...representation } = dto
  return etagOf(representation)
}
