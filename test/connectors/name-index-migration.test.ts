import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { after, before, test } from 'node:test'
import { insertConnector, type ConnectorFields } from '../../src/connectors/connectors.repository.ts'
import { migrateTo, migrateToLatest } from '../../src/db/migrate.ts'
import { newId } from '../../src/ids.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'

/**
 * Migration 0006 (the connector name index) on a database that already has connectors: they
 * are indexed when it runs, and rolling it back and forth leaves the filter correct.
 */
let testDb: TestDatabase
before(async () => {
  testDb = await createTestDatabase()
})
after(async () => {
  await testDb.drop()
})

function fields(name: string): ConnectorFields {
  return {
    name,
    baseUrl: 'https://api.example.com',
    isPublic: false,
    documentationUrl: null,
    imageUrl: null,
    authSchemeConfigs: [],
    connectionVariables: [],
    tags: {},
    categories: [],
  }
}

async function named(text: string): Promise<string[]> {
  const { db } = testDb
  const rows = await db.kysely.selectFrom(db.dialect.connectorsNamed(text, ['name']).as('c')).select('c.name').execute()
  return rows.map((r) => r.name).sort()
}

test('existing connectors are indexed by the migration; down and up again keep the filter right', async () => {
  const { db } = testDb
  await migrateTo(db, '0004_content')
  const org = await insertOrganisation(db, 'migration')
  const ids: string[] = []
  for (const name of ['Alpha Pay', 'Beta Payroll', 'Gamma', 'Ärger Über']) {
    const id = newId()
    ids.push(id)
    await insertConnector(db, { id, organisationId: org.id, ...fields(name) })
  }
  await migrateToLatest(db)
  assert.deepEqual(await named('PAY'), ['Alpha Pay', 'Beta Payroll'])
  assert.deepEqual(await named('payroll'), ['Beta Payroll'])
  assert.deepEqual(await named('über'), ['Ärger Über'])
  assert.deepEqual(await named('ä'), ['Ärger Über'])
  assert.deepEqual(await named('mm'), ['Gamma'])

  // Rows written after the migration are indexed by the database itself.
  await db.kysely.updateTable('connectors').set({ name: 'Gamma Payments' }).where('id', '=', ids[2]!).execute()
  await db.kysely.deleteFrom('connectors').where('id', '=', ids[0]!).execute()
  assert.deepEqual(await named('pay'), ['Beta Payroll', 'Gamma Payments'])

  await migrateTo(db, '0004_content')
  await migrateToLatest(db)
  assert.deepEqual(await named('pay'), ['Beta Payroll', 'Gamma Payments'])
  assert.deepEqual(await named('alpha'), [])
})

test('0008 bounds the PostgreSQL name index pending list at 64 kB; down resets it', async () => {
  const { db } = testDb
  // SQLite's trigram table has no such setting: there the migration only has to run both ways.
  const options = async () => {
    if (db.dialect.name !== 'postgres') return 'not applicable'
    const { rows } = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where relname = 'connectors_name_trgm'`.execute(db.kysely)
    assert.equal(rows.length, 1, 'migration 0006 created the trigram index')
    return rows[0]!.reloptions
  }
  const bounded = db.dialect.name === 'postgres' ? ['gin_pending_list_limit=64'] : 'not applicable'
  await migrateToLatest(db)
  assert.deepEqual(await options(), bounded)
  await migrateTo(db, '0007_connector_revision')
  assert.deepEqual(await options(), db.dialect.name === 'postgres' ? null : 'not applicable')
  await migrateToLatest(db)
  assert.deepEqual(await options(), bounded)
  assert.deepEqual(await named('payroll'), ['Beta Payroll'])
})
