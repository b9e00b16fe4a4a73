import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openDatabase, type Db } from '../../src/db/database.ts'
import { migrateToLatest } from '../../src/db/migrate.ts'

/**
 * A fresh, migrated database for one test file, on the dialect TEST_DIALECT picks
 * (`sqlite`, the default, or `postgres`, which needs DATABASE_URL). PostgreSQL gets a new
 * database per call, dropped again by `drop()`.
 */
export type TestDialect = 'sqlite' | 'postgres'

export const testDialect: TestDialect = process.env.TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite'

export interface TestDatabase {
  db: Db
  /** Closes the connection(s) and removes the database. */
  drop(): Promise<void>
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('TEST_DIALECT=postgres needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)')
  return url
}

export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<TestDatabase> {
  if (testDialect === 'postgres') {
    const admin = adminUrl()
    const name = `cr_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    const client = new pg.Client({ connectionString: admin })
    await client.connect()
    await client.query(`create database ${name}`)
    await client.end()
    const url = new URL(admin)
    url.pathname = `/${name}`
    const db = openDatabase({ databaseUrl: url.toString(), poolMax: options.poolMax ?? 10 })
    await migrateToLatest(db)
    return {
      db,
      async drop() {
        await db.close()
        const dropper = new pg.Client({ connectionString: admin })
        await dropper.connect()
        await dropper.query(`drop database if exists ${name} with (force)`)
        await dropper.end()
      },
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-test-'))
  const db = openDatabase({ sqliteFile: path.join(dir, 'registry.db') })
  await migrateToLatest(db)
  return {
    db,
    async drop() {
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
