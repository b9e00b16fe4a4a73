import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { CursorCodec } from '../../src/http/pagination.ts'

/**
 * The cursor codec remembers the cursors it issued and verified (pagination.ts); remembering must
 * not change what a cursor is or which cursors are accepted. Another replica (a codec with the same
 * secret and nothing remembered) must accept every cursor this one issues, for the same listing only.
 */

const secret = randomBytes(32)
const code = (error: unknown) => (error as { code?: string }).code

const values = fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 3 })
const scope = fc.string({ maxLength: 30 })

test('a cursor decodes to its values on this codec and on a fresh one, and only for its own listing', () => {
  const codec = new CursorCodec(secret)
  fc.assert(
    fc.property(scope, scope, values, (a, b, v) => {
      const cursor = codec.encode(a, v)
      assert.equal(codec.encode(a, v), cursor, 'the same values give the same cursor')
      assert.deepEqual(codec.decode(a, cursor), v)
      const replica = new CursorCodec(secret)
      assert.deepEqual(replica.decode(a, cursor), v)
      assert.deepEqual(replica.decode(a, cursor), v, 'remembered by the replica after its first check')
      if (a !== b) {
        assert.throws(() => codec.decode(b, cursor), (e) => code(e) === 'invalid_cursor')
        assert.throws(() => new CursorCodec(secret).decode(b, cursor), (e) => code(e) === 'invalid_cursor')
      }
    }),
  )
})

test('edited or foreign cursors are refused, whether or not their original is remembered', () => {
  const codec = new CursorCodec(secret)
  const cursor = codec.encode('listing', ['2026-01-01T00:00:00.000Z', '01J9ZQ0000000000000000KEY1'])
  const [body, signature] = cursor.split('.') as [string, string]
  const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), v: ['x', 'y'] })).toString('base64url')
  for (const bad of [`${edited}.${signature}`, `${body}.${signature.slice(1)}`, `${body}.${signature}.x`, body, '', new CursorCodec(randomBytes(32)).encode('listing', ['a'])]) {
    assert.throws(() => codec.decode('listing', bad), (e) => code(e) === 'invalid_cursor', bad)
  }
})

test('decoded values cannot be changed through the remembered copy', () => {
  const codec = new CursorCodec(secret)
  const cursor = codec.encode('listing', ['a', 1])
  const decoded = codec.decode('listing', cursor) as unknown[]
  assert.throws(() => {
    decoded[0] = 'changed'
  }, TypeError)
  assert.deepEqual(codec.decode('listing', cursor), ['a', 1])
})

test('cursors of long listings (not remembered) work the same', () => {
  const codec = new CursorCodec(secret)
  const scope = `connectors:${'tag'.repeat(400)}`
  const cursor = codec.encode(scope, ['a', 1])
  assert.equal(codec.encode(scope, ['a', 1]), cursor)
  assert.deepEqual(codec.decode(scope, cursor), ['a', 1])
  assert.deepEqual(new CursorCodec(secret).decode(scope, cursor), ['a', 1])
  assert.throws(() => codec.decode(`${scope}x`, cursor), (e) => code(e) === 'invalid_cursor')
})

test('cursors forgotten once the memory is full are still verified by their signature', () => {
  const codec = new CursorCodec(secret)
  const first = codec.encode('listing', [0])
  for (let i = 1; i <= 3000; i++) codec.decode('listing', codec.encode('listing', [i]))
  assert.deepEqual(codec.decode('listing', first), [0])
  assert.throws(() => codec.decode('other', first), (e) => code(e) === 'invalid_cursor')
})
