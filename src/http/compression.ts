import Negotiator from 'negotiator'
import { gzipMember } from './gzip.ts'

/** Bodies below this many bytes go out as they are: a gzip member would save little or nothing. */
export const COMPRESSION_THRESHOLD_BYTES = 1024

const MAX_REMEMBERED_HEADERS = 64
const acceptsGzipByHeader = new Map<string, boolean>()

/**
 * Whether a request's `Accept-Encoding` prefers gzip to identity (RFC 9110 §12.5.3: q-values,
 * `*`, `identity;q=0`), remembered per header value: clients send the same few values.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false
  let accepted = acceptsGzipByHeader.get(header)
  if (accepted === undefined) {
    accepted = new Negotiator({ headers: { 'accept-encoding': header } }).encoding(['gzip', 'identity']) === 'gzip'
    if (acceptsGzipByHeader.size >= MAX_REMEMBERED_HEADERS) acceptsGzipByHeader.clear()
    acceptsGzipByHeader.set(header, accepted)
  }
  return accepted
}

/**
 * gzip members of response bodies by a key naming their bytes (a content hash, or for a page its
 * own bytes and its items' keys), so that each body is compressed once, not per response.
 * Bounded in bytes; the least recently stored member is evicted first. A capacity of 0 turns
 * compression off: compressing per response would cost more CPU than sending the bytes (a 27 KB
 * connector: ~130 µs, against ~25 µs to serve it).
 */
export class CompressedForms {
  readonly #members = new Map<string, Buffer>()
  readonly #capacity: number
  #bytes = 0

  constructor(capacityBytes: number) {
    this.#capacity = capacityBytes
  }

  get enabled(): boolean {
    return this.#capacity > 0
  }

  get bytes(): number {
    return this.#bytes
  }

  /** The gzip member of `body`, compressed now unless remembered under `key`. */
  memberOf(key: string, body: Buffer): Buffer {
    return this.remember(key, () => gzipMember(body))
  }

  /** The gzip body remembered under `key`, or `make`'s, remembered if it fits. */
  remember(key: string, make: () => Buffer): Buffer {
    const remembered = this.#members.get(key)
    if (remembered) return remembered
    const member = make()
    const weight = member.byteLength + 2 * key.length
    if (weight > this.#capacity) return member
    this.#members.set(key, member)
    this.#bytes += weight
    while (this.#bytes > this.#capacity) {
      const [oldest, evicted] = this.#members.entries().next().value!
      this.#members.delete(oldest)
      this.#bytes -= evicted.byteLength + 2 * oldest.length
    }
    return member
  }
}
