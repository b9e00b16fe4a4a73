import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sql } from 'kysely'
import { prepared } from '../../src/db/prepared.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'

/** Prepared queries (src/db/prepared.ts): built once, then run with each call's values. */
let testDb: TestDatabase
before(async () => {
  testDb = await createTestDatabase()
})
after(async () => {
  await testDb.drop()
})

const byNameOrId = prepared(({ kysely }, p: { name: string; id: string; limit: number }) =>
  kysely
    .selectFrom('organisations')
    .select(['id', 'name'])
    // `name` twice and a constant between the placeholders: every slot must get its own value.
    .where((eb) => eb.or([eb('name', '=', p.name), eb('id', '=', p.id), eb('name', '=', p.name)]))
    .where('name', '!=', 'constant that is not a parameter slot')
    .orderBy('name')
    .limit(p.limit),
)

test('each call runs with its own values, in every position the placeholder was used', async () => {
  const { db } = testDb
  const a = await insertOrganisation(db, 'prepared-a')
  const b = await insertOrganisation(db, 'prepared-b')
  assert.deepEqual(await byNameOrId(db, { name: 'prepared-a', id: 'none', limit: 10 }), [{ id: a.id, name: 'prepared-a' }])
  assert.deepEqual(await byNameOrId(db, { name: 'none', id: b.id, limit: 10 }), [{ id: b.id, name: 'prepared-b' }])
  assert.deepEqual(
    (await byNameOrId(db, { name: 'prepared-a', id: b.id, limit: 10 })).map((r) => r.name),
    ['prepared-a', 'prepared-b'],
  )
  assert.deepEqual((await byNameOrId(db, { name: 'prepared-a', id: b.id, limit: 1 })).map((r) => r.name), ['prepared-a'])
  // Values that look like SQL stay values.
  assert.deepEqual(await byNameOrId(db, { name: "x' or '1'='1", id: 'none', limit: 10 }), [])
})

test('a placeholder that is not compiled into a bound parameter is refused at first use', async () => {
  const inlined = prepared(({ kysely }, p: { name: string }) => kysely.selectFrom('organisations').select('id').where(sql.raw<boolean>(p.name)))
  await assert.rejects(inlined(testDb.db, { name: '1 = 1' }), /parameter "name" was not compiled into a bound parameter/)
})
