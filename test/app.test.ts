import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The embedded default never loads the PostgreSQL or Redis client (a few MB of heap and ~5 MB of
 * RSS for nothing). Run in a fresh process, since this one may have loaded them for other tests;
 * CommonJS modules, imported or required, land in the require cache.
 */
test('an app on SQLite without REDIS_URL loads neither pg nor ioredis', async () => {
  const script = `
    import { createRequire } from 'node:module'
    const { openDatabase } = await import('./src/db/database.ts')
    const { migrateToLatest } = await import('./src/db/migrate.ts')
    const { buildApp } = await import('./src/app.ts')
    const db = openDatabase({ sqliteFile: ':memory:' })
    await migrateToLatest(db)
    const app = await buildApp({ db, logger: false })
    const health = await app.inject({ method: 'GET', url: '/readyz' })
    await app.close()
    await db.close()
    const loaded = Object.keys(createRequire(import.meta.url).cache)
    const drivers = loaded.filter((file) => /[\\\\/]node_modules[\\\\/](pg|ioredis)[\\\\/]/.test(file))
    console.log(JSON.stringify({ status: health.statusCode, modules: loaded.length, drivers }))
  `
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: root })
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: number; modules: number; drivers: string[] }
  assert.equal(result.status, 200)
  assert.ok(result.modules > 10, 'the require cache lists the CommonJS modules the app loaded')
  assert.deepEqual(result.drivers, [])
})
