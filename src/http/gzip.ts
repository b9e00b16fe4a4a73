import zlib from 'node:zlib'

/**
 * gzip members (RFC 1952) assembled from pieces compressed once. A cached body is compressed into
 * a member whose deflate data ends with a sync flush, i.e. byte-aligned and without a final
 * block: that data can be spliced into a larger member, after other pieces, because it never
 * refers back before its own start. A connector page is then its connectors' cached deflate
 * data, with the page's own few bytes (counts, cursors, commas) in stored blocks between them,
 * one empty final block, and a trailer whose CRC-32 is combined from the pieces' CRCs instead of
 * being computed over the page's bytes.
 */

// ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS = unknown.
const MEMBER_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
// BFINAL = 1, BTYPE = 01 (fixed Huffman), the end-of-block code: the empty final block.
const FINAL_BLOCK = Buffer.from([0x03, 0x00])
const TRAILER_BYTES = 8
const MAX_STORED_BLOCK = 0xffff

/** One gzip member of `body`, level 6, whose deflate data can be reused by `GzipPage`. */
export function gzipMember(body: Buffer): Buffer {
  const deflated = zlib.deflateRawSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  return Buffer.concat([MEMBER_HEADER, deflated, FINAL_BLOCK, trailer(zlib.crc32(body), body.byteLength)])
}

function trailer(crc: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(TRAILER_BYTES)
  bytes.writeUInt32LE(crc >>> 0, 0)
  bytes.writeUInt32LE(length >>> 0, 4)
  return bytes
}

/** Byte-aligned stored blocks (not final) holding `bytes` as they are: 5 bytes of framing per 64 KiB. */
function storedBlocks(bytes: Buffer): Buffer[] {
  const blocks: Buffer[] = []
  for (let start = 0; start < bytes.byteLength; start += MAX_STORED_BLOCK) {
    const chunk = bytes.subarray(start, start + MAX_STORED_BLOCK)
    const header = Buffer.allocUnsafe(5)
    header[0] = 0 // BFINAL = 0, BTYPE = 00; the rest of the byte is padding
    header.writeUInt16LE(chunk.byteLength, 1)
    header.writeUInt16LE(~chunk.byteLength & 0xffff, 3)
    blocks.push(header, chunk)
  }
  return blocks
}

/** A gzip member built from plain pieces and members made by `gzipMember`, in order. */
export class GzipPage {
  readonly #parts: Buffer[] = [MEMBER_HEADER]
  #crc = 0
  #length = 0

  /** Bytes sent as they are (a page's head, separators): stored, not compressed. */
  plain(bytes: Buffer): void {
    if (bytes.byteLength === 0) return
    this.#parts.push(...storedBlocks(bytes))
    this.#crc = zlib.crc32(bytes, this.#crc)
    this.#length += bytes.byteLength
  }

  /** The deflate data of a member from `gzipMember`, without its header, final block and trailer. */
  member(member: Buffer): void {
    const end = member.byteLength - TRAILER_BYTES
    const crc = member.readUInt32LE(end)
    const length = member.readUInt32LE(end + 4)
    this.#parts.push(member.subarray(MEMBER_HEADER.byteLength, end - FINAL_BLOCK.byteLength))
    this.#crc = crc32Combine(this.#crc, crc, length)
    this.#length += length
  }

  finish(): Buffer[] {
    return [...this.#parts, FINAL_BLOCK, trailer(this.#crc, this.#length)]
  }
}

// --- CRC-32 of a concatenation from the CRCs of its parts (zlib's crc32_combine) -------------
// In zlib's reflected representation a CRC is a polynomial over GF(2) with x^0 in the top bit;
// crc(A‖B) = crc(A)·x^(8·|B|) mod P + crc(B).

const POLY = 0xedb88320
const X0 = 0x80000000

/** a(x)·b(x) mod P(x). */
function multiplyModP(a: number, b: number): number {
  let product = 0
  for (let m = X0; m !== 0; m >>>= 1) {
    if (a & m) {
      product ^= b
      if ((a & (m - 1)) === 0) break
    }
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1
  }
  return product >>> 0
}

// X_TO_2_TO_THE[k] = x^(2^k) mod P.
const X_TO_2_TO_THE: number[] = []
for (let k = 0, p = X0 >>> 1; k < 32; k++, p = multiplyModP(p, p)) X_TO_2_TO_THE.push(p)

/** x^(8·bytes) mod P. */
function shiftFor(bytes: number): number {
  let p = X0
  for (let n = bytes, k = 3; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) p = multiplyModP(X_TO_2_TO_THE[k % 32]!, p)
  }
  return p
}

/** The CRC-32 of A‖B from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(shiftFor(lengthB), crcA) ^ crcB) >>> 0
}
