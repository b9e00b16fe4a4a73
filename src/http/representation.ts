import { hash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fastJson from 'fast-json-stringify'
import type { TSchema } from 'typebox'
import { acceptsGzip, COMPRESSION_THRESHOLD_BYTES, type CompressedForms } from './compression.ts'
import { gzipEtag, ifNoneMatchHit } from './etag.ts'
import { GzipPage } from './gzip.ts'
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
  /**
   * Names exactly these bytes (a content hash), under which their gzip form is kept; may be
   * absent for bodies too small to compress.
   */
  contentKey: string | undefined
}

/** The serialiser Fastify would compile for `schema` as a response schema: the same bytes. */
export function serializerFor<T>(schema: TSchema): (value: T) => string {
  return fastJson(schema as Parameters<typeof fastJson>[0], SERIALIZER_OPTIONS) as (value: T) => string
}

/** Approximate memory of a cached representation and its key (strings at 2 bytes a character), in bytes. */
export function weighRepresentation(representation: Representation, key: string): number {
  // A connector's content key is its ETag, the same string: counted once.
  const contentKey = representation.contentKey === representation.etag ? 0 : (representation.contentKey?.length ?? 0)
  const strings = key.length + (representation.etag?.length ?? 0) + contentKey
  return representation.json.byteLength + 2 * strings + 64
}

/** The key for a body's gzip form: a hash of its bytes, or nothing when it is too small to compress. */
export function contentKeyOf(json: Buffer): string | undefined {
  return json.byteLength >= COMPRESSION_THRESHOLD_BYTES ? hash('sha256', json, 'base64url') : undefined
}

/**
 * A JSON body assembled per response from cached representations (a connector page): `head`,
 * the items separated by commas, `tail`.
 */
export interface ComposedRepresentation {
  head: Buffer
  items: readonly Representation[]
  tail: Buffer
  etag: undefined
}

const JSON_TYPE = 'application/json; charset=utf-8'
const COMMA = Buffer.from(',')

export type SendRepresentation = (
  request: FastifyRequest,
  reply: FastifyReply,
  representation: Representation | ComposedRepresentation,
) => FastifyReply

/**
 * Sends representations: the ETag, 304 when `If-None-Match` holds it (either form's), else the
 * bytes as they are, or their gzip form when the client accepts gzip and the body is large
 * enough (Fastify passes a buffer or stream with a JSON content type through; the route's
 * response schema still documents the shape, and the contract tests check the bytes against it).
 * A body is compressed once and its gzip member kept in `forms`; a composed page is spliced
 * from its items' members (gzip.ts) and kept there too, so it costs no compression either.
 */
export function representationSender(forms: CompressedForms): SendRepresentation {
  return (request, reply, representation) => {
    const compressible = forms.enabled && isCompressible(representation)
    const gzip = compressible && acceptsGzip(request.headers['accept-encoding'])
    if (compressible) reply.header('vary', 'Accept-Encoding')
    if (representation.etag !== undefined) {
      reply.header('etag', gzip ? gzipEtag(representation.etag) : representation.etag)
      if (ifNoneMatchHit(request.headers['if-none-match'], representation.etag)) return reply.code(304).send(null)
    }
    reply.type(JSON_TYPE)
    if (gzip) reply.header('content-encoding', 'gzip')
    if (!('items' in representation)) {
      return reply.send(gzip ? forms.memberOf(representation.contentKey!, representation.json) : representation.json)
    }
    if (gzip) return reply.send(gzipPage(representation, forms))
    // With its length known the page goes out as it is, not in chunked encoding's frames.
    reply.header('content-length', composedBytes(representation))
    return reply.send(streamOf(plainParts(representation)))
  }
}

function isCompressible(representation: Representation | ComposedRepresentation): boolean {
  if (!('items' in representation)) return representation.contentKey !== undefined && representation.json.byteLength >= COMPRESSION_THRESHOLD_BYTES
  return composedBytes(representation) >= COMPRESSION_THRESHOLD_BYTES
}

/** The length of a composed page's body: head, items, the commas between them, tail. */
function composedBytes({ head, items, tail }: ComposedRepresentation): number {
  let bytes = head.byteLength + tail.byteLength + Math.max(0, items.length - 1) * COMMA.byteLength
  for (const item of items) bytes += item.json.byteLength
  return bytes
}

function plainParts({ head, items, tail }: ComposedRepresentation): Buffer[] {
  const parts = [head]
  items.forEach((item, i) => parts.push(...(i === 0 ? [item.json] : [COMMA, item.json])))
  parts.push(tail)
  return parts
}

/**
 * A gzip page, remembered by what names its bytes (its head and tail, its items' content keys)
 * while its items are: ~8× smaller than the page, it goes out as one buffer, and a page asked
 * for again (the name filter's first page, say) costs a lookup instead of splicing its items
 * and allocating its bytes per response (at thousands of pages a second that churn alone took
 * the server's peak RSS up by 14 MB).
 */
function gzipPage(page: ComposedRepresentation, forms: CompressedForms): Buffer {
  const splice = () => Buffer.concat(gzipParts(page, forms))
  if (page.items.some((item) => item.contentKey === undefined)) return splice()
  const key = `page:${page.head.toString('latin1')}${page.items.map((item) => item.contentKey).join(',')}${page.tail.toString('latin1')}`
  return forms.remember(key, splice)
}

function gzipParts({ head, items, tail }: ComposedRepresentation, forms: CompressedForms): Buffer[] {
  const page = new GzipPage()
  page.plain(head)
  items.forEach((item, i) => {
    if (i > 0) page.plain(COMMA)
    if (item.contentKey === undefined) page.plain(item.json)
    else page.member(forms.memberOf(item.contentKey, item.json))
  })
  page.plain(tail)
  return page.finish()
}

/**
 * A stream that hands over every piece at its first read (references, no copies), so that the
 * response writes them within one tick, which Node gathers into one writev (with the server's
 * high-water mark, app.ts, above a page's size). Readable.from pushed a piece per read and the
 * response paused after each connector: a syscall per connector, 140 against 92 µs of CPU per
 * name-filtered page of the large catalogue. Concatenating a ~270 KB page per response instead
 * grew the server's peak RSS by ~30 MB and cost more CPU than writing the pieces.
 */
function streamOf(parts: Buffer[]): Readable {
  return new Readable({
    read() {
      for (const part of parts) this.push(part)
      this.push(null)
    },
  })
}
