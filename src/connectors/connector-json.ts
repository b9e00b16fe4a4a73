import fastJson from 'fast-json-stringify'
import { etagOf } from '../http/etag.ts'
import type { PageInfo } from '../http/pagination.ts'
import { SERIALIZER_OPTIONS } from '../http/serialization.ts'
import { HttpConnectorSchema, type HttpConnector } from './connectors.schemas.ts'

/**
 * A connector as sent: its JSON and strong ETag. GetConnector and the connector listings cache
 * these per connector revision (see RevisionCache), because a connector embeds every one of its
 * versions: serialising them, and hashing them for the ETag, was most of a request's work and
 * grew with the number of versions.
 */
export interface ConnectorRepresentation {
  /** UTF-8 JSON, off the V8 heap: cached bodies do not make the garbage collector's heap grow. */
  json: Buffer
  etag: string
}

// The same compiler Fastify uses for response schemas, so the bytes are what the route would send.
const serializeConnector = fastJson(HttpConnectorSchema as Parameters<typeof fastJson>[0], SERIALIZER_OPTIONS)

export function representationOf(dto: HttpConnector): ConnectorRepresentation {
  return { json: Buffer.from(serializeConnector(dto)), etag: etagOf(dto) }
}

/** Approximate memory of a cached representation, in bytes. */
export function weighRepresentation(representation: ConnectorRepresentation): number {
  return representation.json.byteLength + representation.etag.length + 64
}

const COMMA = Buffer.from(',')
const END = Buffer.from(']}')

/** A ConnectorPage from serialised connectors (the page fields first, as the schema lists them). */
export function connectorPageJson(pageInfo: PageInfo, connectors: readonly ConnectorRepresentation[]): Buffer {
  let head = `{"totalCount":${pageInfo.totalCount}`
  if (pageInfo.next !== undefined) head += `,"next":${JSON.stringify(pageInfo.next)}`
  if (pageInfo.prev !== undefined) head += `,"prev":${JSON.stringify(pageInfo.prev)}`
  const parts: Buffer[] = [Buffer.from(`${head},"connectors":[`)]
  connectors.forEach((c, i) => parts.push(...(i === 0 ? [c.json] : [COMMA, c.json])))
  parts.push(END)
  return Buffer.concat(parts)
}
