import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, type TestApp } from '../helpers/app.ts'
import { testDialect } from '../helpers/database.ts'
import { clientKeys, injectApi, rawInjectApi, sleep, versionsPath, type Api } from './support.ts'

/**
 * Lost-update test (issue 4): 16 clients × 50 read-modify-write edits of one draft's
 * description with If-Match, retrying from the GET on 412. The final description must be
 * exactly the successful writes, each token once, in the order the server acknowledged them.
 */

const CLIENTS = 16
const EDITS = 50

let t: TestApp
let api: Api

before(async () => {
  t = await buildTestApp()
  api = injectApi(t)
})
after(async () => {
  await t.close()
})

interface Success {
  token: string
  /** The description the successful PUT answered with. */
  description: string
}

test(`${CLIENTS} clients × ${EDITS} If-Match edits of one draft lose no update (${testDialect})`, async () => {
  const connector = await createConnector(t)
  const draft = await createVersion(t, connector.id, 'shared-draft')
  const url = versionsPath(t.org.id, connector.id, 'shared-draft')
  const successes: Success[] = []
  let preconditionFailures = 0

  // Each client has its own API key; its hot loop skips the harness's per-response contract
  // checks (the statuses are asserted here, 5xx included).
  const keys = await clientKeys(t, CLIENTS)

  async function client(c: number): Promise<void> {
    const fast = rawInjectApi(t, keys[c]!)
    for (let i = 0; i < EDITS; i++) {
      const token = `c${c}-${i};`
      for (let attempt = 1; ; attempt++) {
        assert.ok(attempt <= 10_000, `client ${c} starved on edit ${i}`)
        const read = await fast({ method: 'GET', url })
        assert.equal(read.status, 200, JSON.stringify(read.body))
        assert.ok(read.etag, 'GET returns an ETag')
        const description = `${read.body.description ?? ''}${token}`
        const write = await fast({ method: 'PUT', url, payload: { name: 'shared-draft', description }, headers: { 'if-match': read.etag } })
        if (write.status === 200) {
          assert.equal(write.body.description, description)
          successes.push({ token, description })
          break
        }
        assert.equal(write.status, 412, `PUT: ${write.status} ${JSON.stringify(write.body)}`)
        assert.equal(write.body.code, 'precondition_failed')
        preconditionFailures++
        // A well-behaved client backs off with jitter before re-reading.
        await sleep(Math.random() * 2 ** Math.min(attempt + 2, 8))
      }
    }
  }

  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
  process.stdout.write(`# ${CLIENTS * EDITS} successful edits after ${preconditionFailures} precondition failures\n`)

  assert.equal(successes.length, CLIENTS * EDITS, 'every edit eventually succeeded exactly once')
  // Each success extended exactly the description the previous success left: no write was lost.
  const ordered = [...successes].sort((a, b) => a.description.length - b.description.length)
  let expected = ''
  for (const s of ordered) {
    expected += s.token
    assert.equal(s.description, expected, `the write of ${s.token} did not build on the previous acknowledged write`)
  }

  const stored = await t.db.kysely.selectFrom('connector_versions').select(['id', 'description']).where('id', '=', draft.id).executeTakeFirstOrThrow()
  assert.equal(stored.description, expected, 'the stored description is exactly the acknowledged writes in order')
  const read = await api({ method: 'GET', url })
  assert.equal(read.body.description, expected)

  const tokens = expected.split(';').filter(Boolean)
  assert.equal(tokens.length, CLIENTS * EDITS)
  assert.equal(new Set(tokens).size, tokens.length, 'no token twice')
  // Each client's own edits appear in the order it made them.
  for (let c = 0; c < CLIENTS; c++) {
    const own = tokens.filter((tok) => tok.startsWith(`c${c}-`)).map((tok) => Number(tok.split('-')[1]))
    assert.deepEqual(own, Array.from({ length: EDITS }, (_, i) => i), `client ${c}'s edits in order`)
  }
  // The race was real: clients did collide.
  assert.ok(preconditionFailures > 0, 'no 412 at all: the clients never raced')
})
