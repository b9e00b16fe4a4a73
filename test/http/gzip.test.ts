import assert from 'node:assert/strict'
import { test } from 'node:test'
import zlib from 'node:zlib'
import fc from 'fast-check'
import { CompressedForms } from '../../src/http/compression.ts'
import { crc32Combine, GzipPage, gzipMember } from '../../src/http/gzip.ts'
import { versionRepresentation } from '../../src/versions/version-json.ts'

const bytes = fc.uint8Array({ maxLength: 3000 }).map((array) => Buffer.from(array))
// Text-like pieces compress into real Huffman blocks; random bytes mostly into stored ones.
const text = fc.string({ maxLength: 3000 }).map((s) => Buffer.from(s.repeat(3)))

test('crc32Combine gives the CRC-32 of the concatenation', () => {
  fc.assert(
    fc.property(bytes, bytes, (a, b) => crc32Combine(zlib.crc32(a), zlib.crc32(b), b.byteLength) === zlib.crc32(Buffer.concat([a, b]))),
    { numRuns: 300 },
  )
  // Lengths with high bits set (the shift is computed by squaring, one bit of the length at a time).
  const big = Buffer.alloc(70_000, 'a')
  const tail = Buffer.alloc(1 << 17, 7)
  assert.equal(crc32Combine(zlib.crc32(big), zlib.crc32(tail), tail.byteLength), zlib.crc32(Buffer.concat([big, tail])))
})

test('a member decodes to its body; a page of plain pieces and members decodes to their concatenation', () => {
  const piece = fc.oneof(
    bytes.map((b) => ({ plain: true, b })),
    text.map((b) => ({ plain: false, b })),
    bytes.map((b) => ({ plain: false, b })),
  )
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const page = new GzipPage()
      for (const { plain, b } of pieces) {
        if (plain) page.plain(b)
        else {
          const member = gzipMember(b)
          assert.deepEqual(zlib.gunzipSync(member), b)
          page.member(member)
        }
      }
      // gunzip checks the trailer's CRC and size.
      assert.deepEqual(zlib.gunzipSync(Buffer.concat(page.finish())), Buffer.concat(pieces.map((p) => p.b)))
    }),
    { numRuns: 200 },
  )
})

test('plain pieces longer than a stored block (64 KiB) are split', () => {
  const page = new GzipPage()
  const long = Buffer.alloc(200_000, 'z')
  page.plain(long)
  page.member(gzipMember(Buffer.from('{"x":1}')))
  assert.deepEqual(zlib.gunzipSync(Buffer.concat(page.finish())), Buffer.concat([long, Buffer.from('{"x":1}')]))
})

test('CompressedForms compresses a body once, and keeps at most its capacity in bytes', () => {
  const forms = new CompressedForms(3000)
  const body = Buffer.from(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, name: `item ${i}` })) }))
  const first = forms.memberOf('a', body)
  assert.equal(forms.memberOf('a', body), first, 'the same buffer: remembered, not recompressed')
  assert.deepEqual(zlib.gunzipSync(first), body)
  const weight = first.byteLength + 2
  assert.equal(forms.bytes, weight)

  const bodies = ['b', 'c', 'd', 'e'].map((key, i) => [key, Buffer.concat([body, Buffer.from(String(i))])] as const)
  for (const [key, b] of bodies) forms.memberOf(key, b)
  assert.ok(forms.bytes <= 3000, `${forms.bytes} bytes kept`)
  assert.notEqual(forms.memberOf('a', body), first, 'the oldest was evicted')

  // A member larger than the whole capacity is returned but not kept.
  const tiny = new CompressedForms(10)
  assert.deepEqual(zlib.gunzipSync(tiny.memberOf('x', body)), body)
  assert.equal(tiny.bytes, 0)
  assert.equal(new CompressedForms(0).enabled, false)
})

test("a version's content key names its bytes, messages included (its ETag leaves them out)", () => {
  const dto = {
    id: '01J9ZQ00000000000000000001',
    name: '1.0.0',
    description: 'd'.repeat(1100),
    isLatest: true,
    isDefault: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    publishedAt: null,
    messages: [],
  }
  const plain = versionRepresentation(dto)
  const withMessage = versionRepresentation({ ...dto, messages: [{ severity: 'warning' as const, text: 'Schema X is unused' }] })
  assert.equal(plain.etag, withMessage.etag)
  assert.ok(plain.contentKey)
  assert.notEqual(plain.contentKey, withMessage.contentKey)
  assert.equal(versionRepresentation({ ...dto, description: 'short' }).contentKey, undefined, 'below the threshold')
})
