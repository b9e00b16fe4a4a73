import { serializerFor, type Representation } from '../http/representation.ts'
import type { PageInfo } from '../http/pagination.ts'
import { versionEtag } from './versions.dto.ts'
import { ConnectorVersionSchema, ConnectorVersionsPageSchema, type ConnectorVersion } from './versions.schemas.ts'

const serializeVersion = serializerFor<ConnectorVersion>(ConnectorVersionSchema)
const serializePage = serializerFor<PageInfo & { items: ConnectorVersion[] }>(ConnectorVersionsPageSchema)

export function versionRepresentation(dto: ConnectorVersion): Representation {
  return { json: Buffer.from(serializeVersion(dto)), etag: versionEtag(dto) }
}

export function versionPageRepresentation(pageInfo: PageInfo, items: ConnectorVersion[]): Representation {
  return { json: Buffer.from(serializePage({ ...pageInfo, items })), etag: undefined }
}
