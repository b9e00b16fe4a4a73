import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql } from 'kysely'
import { updateVersionIfCurrent } from '../../src/versions/versions.repository.ts'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'
import { assertError, getVersion, putVersion, tick, versionRow } from './support.ts'

/**
 * UpdateConnectorVersion on PostgreSQL reads without a lock and writes with one statement that
 * applies only if the connector's revision has not moved (versions.service.ts, updateUnlessChanged);
 * a write that lost the race runs again under the connector's lock. These tests make it lose.
 */

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

async function connectorRow(connectorId: string) {
  return t.db.kysely.selectFrom('connectors').select(['revision', 'updated_at']).where('id', '=', connectorId).executeTakeFirstOrThrow()
}

async function draftConnector(description = 'before') {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'd1')
  assert.equal((await putVersion(t, connector.id, 'd1', { name: 'd1', description })).status, 200)
  const draft = (await versionRow(t, connector.id, 'd1'))!
  return { connectorId: connector.id as string, draft }
}

describe('updateVersionIfCurrent', { skip: testDialect !== 'postgres' && 'PostgreSQL only (SQLite updates under its write lock)' }, () => {
  test('writes nothing when the connector revision has moved', async () => {
    const { connectorId, draft } = await draftConnector()
    const connector = await connectorRow(connectorId)
    const result = await updateVersionIfCurrent(
      t.db,
      { connectorId, expectedRevision: connector.revision - 1, versionId: draft.id },
      { description: 'lost' },
    )
    assert.equal(result, undefined)
    assert.deepEqual(await versionRow(t, connectorId, 'd1'), draft)
    assert.deepEqual(await connectorRow(connectorId), connector)
  })

  test('at the current revision: updates the version and marks the connector changed, at one instant', async () => {
    const { connectorId, draft } = await draftConnector()
    const connector = await connectorRow(connectorId)
    await tick()
    const result = await updateVersionIfCurrent(t.db, { connectorId, expectedRevision: connector.revision, versionId: draft.id }, { description: 'won' })
    assert.equal(result?.description, 'won')
    assert.equal(result?.revision, draft.revision + 1)
    const after = await connectorRow(connectorId)
    assert.equal(after.revision, connector.revision + 1)
    assert.equal(after.updated_at, result?.updatedAt)
    assert.ok(after.updated_at > connector.updated_at)
  })

  test('a rename onto a taken name fails on the unique key and writes nothing', async () => {
    const { connectorId, draft } = await draftConnector()
    await createVersion(t, connectorId, 'd2')
    const connector = await connectorRow(connectorId)
    await assert.rejects(
      updateVersionIfCurrent(t.db, { connectorId, expectedRevision: connector.revision, versionId: draft.id }, { name: 'd2', description: 'x' }),
      (error) => t.db.dialect.isUniqueViolation(error),
    )
    assert.deepEqual(await versionRow(t, connectorId, 'd1'), draft)
    assert.deepEqual(await connectorRow(connectorId), connector)
  })
})

describe('UpdateConnectorVersion racing another writer of the connector', { skip: testDialect !== 'postgres' && 'PostgreSQL only' }, () => {
  /**
   * Changes the draft's description in a transaction that holds the connector's lock (as every
   * writer does) and commits only once the PUT is waiting for that lock, i.e. after the PUT read
   * the state before the change.
   */
  async function raceWith(connectorId: string, put: () => Promise<{ status: number }>) {
    let response: Promise<{ status: number }> | undefined
    await t.db.kysely.transaction().execute(async (trx) => {
      await sql`select id from connectors where id = ${connectorId} for update`.execute(trx)
      await sql`update connector_versions set description = 'other writer', revision = revision + 1 where connector_id = ${connectorId} and name = 'd1'`.execute(trx)
      await sql`update connectors set revision = revision + 1 where id = ${connectorId}`.execute(trx)
      response = put()
      for (let waited = 0; !(await someoneWaitsForALock()); waited += 10) {
        assert.ok(waited < 10_000, 'the PUT never waited for the connector lock')
        await tick(10)
      }
    })
    return response!
  }

  async function someoneWaitsForALock(): Promise<boolean> {
    const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(
      t.db.kysely,
    )
    return Number(rows[0]!.n) > 0
  }

  test('If-Match read before the other write is refused (412), and the other write stays', async () => {
    const { connectorId } = await draftConnector()
    const etag = (await getVersion(t, connectorId, 'd1')).headers.etag as string
    const response = await raceWith(connectorId, () => putVersion(t, connectorId, 'd1', { name: 'd1', description: 'mine' }, { 'if-match': etag }))
    assertError(response as never, 412, 'precondition_failed')
    assert.equal((await versionRow(t, connectorId, 'd1'))!.description, 'other writer')
  })

  test('without If-Match the update lands on top of the other write', async () => {
    const { connectorId, draft } = await draftConnector()
    const before = await connectorRow(connectorId)
    const response = await raceWith(connectorId, () => putVersion(t, connectorId, 'd1', { name: 'd1', description: 'mine' }))
    assert.equal(response.status, 200)
    const row = (await versionRow(t, connectorId, 'd1'))!
    assert.equal(row.description, 'mine')
    // The other writer's bump and the PUT's: the PUT re-read under the lock and built on it.
    assert.equal(row.revision, draft.revision + 2)
    assert.equal((await connectorRow(connectorId)).revision, before.revision + 2)
  })
})

test(`concurrent updates of one connector's drafts all land (${testDialect})`, async () => {
  const connector = await createConnector(t)
  const names = Array.from({ length: 12 }, (_, i) => `d${i}`)
  for (const name of names) await createVersion(t, connector.id, name)
  await createVersion(t, connector.id, 'p')
  const before = await connectorRow(connector.id)
  const responses = await Promise.all([
    ...names.map((name) => putVersion(t, connector.id, name, { name, description: `text of ${name}` })),
    publish(t, connector.id, 'p'),
  ])
  for (const response of responses.slice(0, names.length)) assert.equal(response.status, 200)
  for (const name of names) assert.equal((await versionRow(t, connector.id, name))!.description, `text of ${name}`)
  // Every write moved the revision once: none was lost, none applied twice.
  assert.equal((await connectorRow(connector.id)).revision, before.revision + names.length + 1)
  assert.equal((await getVersion(t, connector.id, 'latest')).body.name, 'p')
})
