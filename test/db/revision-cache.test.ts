import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RevisionCache } from '../../src/db/revision-cache.ts'

test('an entry answers only for the revision it was stored under', () => {
  const cache = new RevisionCache<string>(10)
  cache.set('a', 3, 'a@3')
  assert.equal(cache.get('a', 3), 'a@3')
  assert.equal(cache.get('a', 2), undefined)
  assert.equal(cache.get('a', 4), undefined)
  assert.equal(cache.get('b', 3), undefined)
  cache.set('a', 4, 'a@4')
  assert.equal(cache.get('a', 4), 'a@4')
  assert.equal(cache.get('a', 3), undefined)
  assert.equal(cache.size, 1)
})

test('a slow reader cannot replace a newer revision with an older one', () => {
  const cache = new RevisionCache<string>(10)
  cache.set('a', 5, 'a@5')
  cache.set('a', 4, 'a@4')
  assert.equal(cache.get('a', 5), 'a@5')
  assert.equal(cache.get('a', 4), undefined)
})

test('the weight stays within the capacity, evicting the oldest stored entries first', () => {
  const cache = new RevisionCache<string>(10, (value) => value.length)
  cache.set('a', 1, 'aaaa')
  cache.set('b', 1, 'bbbb')
  assert.equal(cache.weight, 8)
  cache.set('c', 1, 'ccc') // 11 > 10: a goes
  assert.equal(cache.get('a', 1), undefined)
  assert.equal(cache.get('b', 1), 'bbbb')
  assert.equal(cache.weight, 7)
  cache.set('b', 2, 'bb') // replacing an entry releases its old weight
  assert.equal(cache.weight, 5)
  cache.set('d', 1, 'd'.repeat(11)) // heavier than the whole cache: not stored, nothing evicted
  assert.equal(cache.get('d', 1), undefined)
  assert.equal(cache.size, 2)
  assert.equal(cache.weight, 5)
})

test('the key can count towards the weight', () => {
  const cache = new RevisionCache<string>(10, (value, id) => value.length + id.length)
  cache.set('long-key', 1, 'ab')
  assert.equal(cache.weight, 10)
  cache.set('k', 1, 'v') // 12 > 10: the first entry goes
  assert.equal(cache.get('long-key', 1), undefined)
  assert.equal(cache.weight, 2)
})

test('capacity 0 stores nothing', () => {
  const cache = new RevisionCache<string>(0, (value) => value.length + 1)
  cache.set('a', 1, '')
  assert.equal(cache.get('a', 1), undefined)
  assert.equal(cache.size, 0)
})
