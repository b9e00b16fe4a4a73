#!/usr/bin/env node
// `npm test`: the whole suite on SQLite, then again on PostgreSQL when DATABASE_URL is set.
// With DATABASE_URL set, an unreachable PostgreSQL fails the run (never a silent skip);
// without it the PostgreSQL pass is skipped with a message, so a newcomer still gets green.
// Extra arguments are test files or directories to run instead of the whole of test/.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

function testFiles(roots) {
  const files = []
  const walk = (p) => {
    const stat = fs.statSync(p)
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p).sort()) walk(path.join(p, entry))
    else if (/\.test\.ts$/.test(p)) files.push(p)
  }
  for (const root of roots) walk(root)
  return files
}

const files = testFiles(process.argv.slice(2).length ? process.argv.slice(2) : ['test'])
const concurrency = String(Math.max(2, os.availableParallelism()))

function run(dialect) {
  process.stdout.write(`\n# === test suite on ${dialect} (${files.length} files) ===\n`)
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
    { stdio: 'inherit', env: { ...process.env, TEST_DIALECT: dialect } },
  )
  return result.status === 0
}

let ok = run('sqlite')
const url = process.env.DATABASE_URL
if (!url) {
  process.stdout.write('\n# PostgreSQL suites skipped: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)\n')
} else {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('select 1')
    await client.end()
  } catch (error) {
    process.stderr.write(`\n# DATABASE_URL is set but PostgreSQL is unreachable: ${error.message}\n`)
    process.exit(1)
  }
  ok = run('postgres') && ok
}
process.exit(ok ? 0 : 1)
