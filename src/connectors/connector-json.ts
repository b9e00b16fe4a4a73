import { etagOf } from '../http/etag.ts'
import type { PageInfo } from '../http/pagination.ts'
import { serializerFor, type ComposedRepresentation, type Representation } from '../http/representation.ts'
import { HttpConnectorSchema, type HttpConnector } from './connectors.schemas.ts'

// A connector embeds every one of its versions: serialising them, and hashing them for the ETag,
// was most of GetConnector's work and grew with the number of versions; hence cached.
const serializeConnector = serializerFor<HttpConnector>(HttpConnectorSchema)

export function connectorRepresentation(dto: HttpConnector): Representation {
  const json = Buffer.from(serializeConnector(dto))
  const etag = etagOf(dto)
  // The ETag hashes the whole DTO the bytes are serialised from, so it names the bytes too (small
  // connectors included: a page of them may be large enough to compress).
  return { json, etag, contentKey: etag }
}

const END = Buffer.from(']}')

/**
 * A ConnectorPage from serialised connectors (the page fields first, as the schema lists them),
 * composed per response from the connectors' cached bodies (representation.ts).
 */
export function connectorPage(pageInfo: PageInfo, connectors: readonly Representation[]): ComposedRepresentation {
  let head = `{"totalCount":${pageInfo.totalCount}`
  if (pageInfo.next !== undefined) head += `,"next":${JSON.stringify(pageInfo.next)}`
  if (pageInfo.prev !== undefined) head += `,"prev":${JSON.stringify(pageInfo.prev)}`
  return { head: Buffer.from(`${head},"connectors":[`), items: connectors, tail: END, etag: undefined }
}
