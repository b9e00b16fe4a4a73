import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serverTuning } from '../../bench/common.ts'

test('serverTuning names the server settings a run inherits, never a URL\'s value', () => {
  assert.deepEqual(serverTuning({ PATH: '/bin', LOG_LEVEL: 'debug' }), {})
  assert.deepEqual(
    serverTuning({ SQLITE_CACHE_MB: ' 32 ', REPRESENTATION_CACHE_MB: '', REDIS_URL: 'redis://:secret@127.0.0.1:6379', PATH: '/bin' }),
    { SQLITE_CACHE_MB: '32', REDIS_URL: '(set)' },
  )
})
