import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { nameStatement } from '../../src/db/pg-statements.ts'
import { prepared } from '../../src/db/prepared.ts'
import { connectorRevision, connectorsListing } from '../../src/connectors/connectors.repository.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.ts'

/** Named statements for the prepared queries on PostgreSQL (src/db/pg-statements.ts). */

test('statements selecting or returning * are never named; spelled-out columns and count(*) are', () => {
  assert.equal(nameStatement('select * from "organisations" where "id" = $1'), false)
  assert.equal(nameStatement('select "o".* from "organisations" as "o"'), false)
  assert.equal(nameStatement('update "organisations" set "name" = $1 returning *'), false)
  assert.equal(nameStatement('select "id", "name" from "organisations" where "id" = $1'), true)
  assert.equal(nameStatement('select count(*) as "n" from "organisations"'), true)
})

describe('on PostgreSQL', { skip: testDialect !== 'postgres' && 'PostgreSQL only' }, () => {
  let testDb: TestDatabase
  // One pooled connection: every query below runs in the same session, whose statements
  // pg_prepared_statements lists.
  before(async () => {
    testDb = await createTestDatabase({ poolMax: 1 })
  })
  after(async () => {
    await testDb.drop()
  })

  async function namedStatements(): Promise<string[]> {
    const { rows } = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(testDb.db.kysely)
    return rows.filter((r) => /^cr_\d+$/.test(r.name)).map((r) => r.statement)
  }

  test('a prepared query is prepared on the server once; other queries are not', async () => {
    const { db } = testDb
    const org = await insertOrganisation(db, 'named')
    assert.equal(await connectorRevision(db, org.id, 'no such connector'), undefined)
    assert.equal(await connectorRevision(db, org.id, 'no such connector'), undefined)
    await db.kysely.selectFrom('organisations').select('name').where('id', '=', org.id).execute()
    const named = await namedStatements()
    assert.equal(named.filter((s) => s.includes('select "revision" from "connectors"')).length, 1)
    assert.ok(!named.some((s) => s.includes('"organisations"')), named.join('\n'))
  })

  test('a name-filtered first page reads its matches once, as a named statement', async () => {
    const { db } = testDb
    const org = await insertOrganisation(db, 'listing')
    const sort = [
      { field: 'updatedAt', direction: 'desc' as const },
      { field: 'id', direction: 'desc' as const },
    ]
    const first = () => connectorsListing(db, { organisationId: org.id, name: 'nothing like it', tags: [] }, sort).fetchFirstCounted!(11)
    assert.deepEqual(await first(), { rows: [], total: 0 })
    assert.deepEqual(await first(), { rows: [], total: 0 })
    const named = (await namedStatements()).filter((s) => s.includes('"matches" as materialized'))
    assert.equal(named.length, 1, 'one statement, parsed once on this connection')
  })

  test('a statement whose result type changed under it fails once as transient, then runs unnamed', async () => {
    const { db } = testDb
    await sql`create table stale_probe (id text primary key, n integer not null)`.execute(db.kysely)
    await sql`insert into stale_probe values ('a', 1)`.execute(db.kysely)
    const probe = prepared(({ kysely }, p: { id: string }) =>
      (kysely as unknown as Kysely<{ stale_probe: { id: string; n: number | string } }>).selectFrom('stale_probe').select('n').where('id', '=', p.id),
    )
    assert.deepEqual(await probe(db, { id: 'a' }), [{ n: 1 }])
    assert.ok((await namedStatements()).some((s) => s.includes('"stale_probe"')))
    // What a migration run by another replica could do to a running one.
    await sql`alter table stale_probe alter column n type text`.execute(db.kysely)
    const failure = await probe(db, { id: 'a' }).then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.ok(failure, 'the outdated named statement fails')
    assert.equal(db.dialect.isTransient(failure), true)
    assert.deepEqual(await probe(db, { id: 'a' }), [{ n: '1' }])
  })
})
