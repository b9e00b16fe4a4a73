import { contentKeyOf, serializerFor, type Representation } from '../http/representation.ts'
import type { PageInfo } from '../http/pagination.ts'
import { versionEtag } from './versions.dto.ts'
import { ConnectorVersionSchema, ConnectorVersionsPageSchema, type ConnectorVersion } from './versions.schemas.ts'

const serializeVersion = serializerFor<ConnectorVersion>(ConnectorVersionSchema)
const serializePage = serializerFor<PageInfo & { items: ConnectorVersion[] }>(ConnectorVersionsPageSchema)

// A version's ETag leaves its validation messages out, so it does not name its bytes: the
// content key hashes the bytes themselves.
export function versionRepresentation(dto: ConnectorVersion): Representation {
  const json = Buffer.from(serializeVersion(dto))
  return { json, etag: versionEtag(dto), contentKey: contentKeyOf(json) }
}

export function versionPageRepresentation(pageInfo: PageInfo, items: ConnectorVersion[]): Representation {
  const json = Buffer.from(serializePage({ ...pageInfo, items }))
  return { json, etag: undefined, contentKey: contentKeyOf(json) }
}
