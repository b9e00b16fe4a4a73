import type { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import fastJson from 'fast-json-stringify'
import type { TSchema } from 'typebox'
import { ifNoneMatchHit } from './etag.ts'
import { SERIALIZER_OPTIONS } from './serialization.ts'

/**
 * A response body as sent, with its strong ETag when the resource has one. Reads of connectors,
 * their versions and version pages are cached as representations per connector revision (see
 * RevisionCache): a hit skips the queries behind the body, building it, serialising it and
 * hashing it for the ETag.
 */
export interface Representation {
  /** UTF-8 JSON, off the V8 heap: cached bodies do not make the garbage collector's heap grow. */
  json: Buffer
  etag: string | undefined
}

/** The serialiser Fastify would compile for `schema` as a response schema: the same bytes. */
export function serializerFor<T>(schema: TSchema): (value: T) => string {
  return fastJson(schema as Parameters<typeof fastJson>[0], SERIALIZER_OPTIONS) as (value: T) => string
}

/** Approximate memory of a cached representation and its key (strings at 2 bytes a character), in bytes. */
export function weighRepresentation(representation: Representation, key: string): number {
  return representation.json.byteLength + 2 * (key.length + (representation.etag?.length ?? 0)) + 64
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** A body assembled from cached representations and streamed as it is (a connector page). */
export interface StreamedRepresentation {
  json: Readable
  etag: undefined
}

/**
 * Sends a representation: its ETag, 304 when `If-None-Match` holds it, else the bytes as they are
 * (Fastify passes a buffer or stream with a JSON content type through; the route's response schema
 * still documents the shape, and the contract tests check the bytes against it).
 */
export function sendRepresentation(
  reply: { header(name: string, value: string): unknown; code(status: number): unknown; type(contentType: string): unknown },
  representation: Representation | StreamedRepresentation,
  ifNoneMatch?: string,
): FastifyReply {
  const plain = reply as unknown as FastifyReply
  if (representation.etag !== undefined) {
    plain.header('etag', representation.etag)
    if (ifNoneMatchHit(ifNoneMatch, representation.etag)) return plain.code(304).send(null)
  }
  return plain.type(JSON_TYPE).send(representation.json)
}
