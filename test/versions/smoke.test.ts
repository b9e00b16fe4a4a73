import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

test('a published version becomes latest and default', async () => {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'v1')
  const published = await publish(t, connector.id, 'v1')
  assert.equal(published.isLatest, true)
  const res = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/${connector.id}/versions/default` })
  assert.equal(res.status, 200)
  assert.equal(res.body.name, 'v1')
  assert.equal(res.body.isDefault, true)
})
