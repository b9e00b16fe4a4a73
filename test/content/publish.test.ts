import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, publish, type TestApp } from '../helpers/app.ts'
import { contentUrl, createDefinitions, createOperation, httpAction, httpTrigger, jsonDefinition } from './support.ts'

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

async function filledDraft(): Promise<string> {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'v1', {})
  await createDefinitions(t, connector.id, 'v1', [
    jsonDefinition('Product', { type: 'object', properties: { variant: { $ref: '#/$defs/Variant' } } }),
    jsonDefinition('Variant', { type: 'object' }),
  ])
  await createOperation(t, connector.id, 'v1', 'actions', httpAction('GetProduct', 'Product'))
  await createOperation(t, connector.id, 'v1', 'triggers', httpTrigger('ProductChanged', 'Product'))
  return connector.id
}

const count = async (table: 'connector_actions' | 'connector_triggers' | 'connector_definitions', versionId: string) =>
  Number(
    (
      await t.db.kysely
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('version_id', '=', versionId)
        .executeTakeFirstOrThrow()
    ).n,
  )

describe('publish validation', () => {
  test('errors block PublishConnector with 400 and the messages; fixing them allows it; warnings are reported', async () => {
    const c = await filledDraft()
    await createOperation(t, c, 'v1', 'actions', httpAction('Broken', undefined, { responses: [] }))
    const refused = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/publish') })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.code, 'version_invalid')
    assert.match(refused.body.message, /1 validation error/)
    assert.deepEqual(refused.body.fields, [
      { field: 'actions.Broken.responses', message: 'At least one response is required for the action to be valid.' },
    ])
    assert.equal(refused.body.details, 'action "Broken" /responses: At least one response is required for the action to be valid.')
    const still = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })
    assert.equal(still.body.publishedAt, null)
    assert.equal(still.body.messages[0].severity, 'error')

    // Fix: a response without a definition is only a warning.
    const broken = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/Broken') })).body
    const fixed = await t.request({
      method: 'PUT',
      url: contentUrl(t, c, 'v1', '/actions/Broken'),
      payload: { ...broken, responses: [{ status: 204, definitions: [] }] },
    })
    assert.equal(fixed.status, 200)
    const published = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/publish') })
    assert.equal(published.status, 200, JSON.stringify(published.body))
    assert.notEqual(published.body.version.publishedAt, null)
    const warning = published.body.version.messages.find((m: { severity: string }) => m.severity === 'warning')
    assert.deepEqual(warning.detail, ['action "Broken" /responses: No response links a definition, so what the action returns is undescribed.'])
  })

  test('published content is immutable: every create, update and delete of a child is 409', async () => {
    const c = await filledDraft()
    await publish(t, c, 'v1')
    const versionId = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })).body.id
    const action = (await t.request({ method: 'GET', url: contentUrl(t, c, 'latest', '/actions/GetProduct') })).body
    const trigger = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/triggers/ProductChanged') })).body
    const product = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Product') })).body
    const before = await t.db.kysely.selectFrom('connector_versions').select('updated_at').where('id', '=', versionId).executeTakeFirstOrThrow()

    const attempts: [string, string, unknown?][] = [
      ['POST', '/actions', httpAction('New', 'Product')],
      ['PUT', '/actions/GetProduct', { ...action, summary: 'changed' }],
      ['DELETE', '/actions/GetProduct'],
      ['POST', '/triggers', httpTrigger('New', 'Product')],
      ['PUT', '/triggers/ProductChanged', { ...trigger, summary: 'changed' }],
      ['DELETE', '/triggers/ProductChanged'],
      ['POST', '/definitions', { definitions: [jsonDefinition('New', true)] }],
      ['PUT', '/definitions/Product', { ...product, description: 'changed' }],
      ['DELETE', '/definitions/Variant?force=true'],
      ['DELETE', '/definitions?force=true', { all: true }],
    ]
    for (const [method, path, payload] of attempts) {
      for (const ref of ['v1', 'latest']) {
        const res = await t.request({ method: method as 'POST', url: contentUrl(t, c, ref, path), ...(payload ? { payload: payload as object } : {}) })
        assert.equal(res.status, 409, `${method} ${path} on ${ref}`)
        assert.equal(res.body.code, 'version_published')
      }
    }
    assert.equal(await count('connector_actions', versionId), 1)
    assert.equal(await count('connector_triggers', versionId), 1)
    assert.equal(await count('connector_definitions', versionId), 2)
    const after = await t.db.kysely.selectFrom('connector_versions').select('updated_at').where('id', '=', versionId).executeTakeFirstOrThrow()
    assert.equal(after.updated_at, before.updated_at)
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })).body.summary, undefined)

    // Unpublished, it is editable again.
    assert.equal((await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/unpublish') })).status, 200)
    assert.equal((await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })).status, 204)
  })
})

describe('fromVersion', () => {
  test('copies every child with new ids, the same names and re-pointed references; the copy is independent', async () => {
    const c = await filledDraft()
    // A dangling reference is copied as dangling.
    await createDefinitions(t, c, 'v1', [jsonDefinition('Gone', { type: 'object' })])
    await createOperation(t, c, 'v1', 'actions', httpAction('UsesGone', 'Gone', { responses: [{ status: 200, definitions: [{ definition: { name: 'Gone' } }] }] }))
    assert.equal((await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1', '/definitions/Gone?force=true') })).status, 204)
    await createOperation(t, c, 'v1', 'actions', httpAction('Placeholder', 'Product'))

    const v2 = await createVersion(t, c, 'v2', { fromVersion: 'v1' })
    const source = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions') })
    const copy = await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/actions') })
    assert.deepEqual(copy.body.actions.map((a: { name: string }) => a.name), source.body.actions.map((a: { name: string }) => a.name))
    for (const [i, copied] of copy.body.actions.entries()) {
      const original = source.body.actions[i]
      assert.notEqual(copied.id, original.id)
      assert.deepEqual(copied.errors, original.errors)
      // Response ids are scoped to the action and stay; link ids are new.
      assert.deepEqual(copied.responses.map((r: { id: string }) => r.id), original.responses.map((r: { id: string }) => r.id))
      assert.equal(copied.responses[0].definitions[0].definition.name, original.responses[0].definitions[0].definition.name)
    }
    const copiedProduct = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/definitions/Product') })).body
    const originalProduct = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Product') })).body
    assert.notEqual(copiedProduct.id, originalProduct.id)
    assert.match(copiedProduct.url, /\/v2\/Product\.json$/)
    // References in the copy point at the copies, never at the source version's definitions.
    const getProduct = copy.body.actions.find((a: { name: string }) => a.name === 'GetProduct')
    assert.equal(getProduct.responses[0].definitions[0].definition.id, copiedProduct.id)
    assert.deepEqual(
      copiedProduct.referencedBy.map((r: { type: string; name: string }) => `${r.type}:${r.name}`),
      ['action:GetProduct', 'action:Placeholder', 'trigger:ProductChanged'],
    )
    const variant = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/definitions/Variant') })).body
    assert.deepEqual(variant.referencedBy, [{ type: 'definition', id: copiedProduct.id, name: 'Product' }])
    const crossVersion = await t.db.kysely
      .selectFrom('content_references as r')
      .innerJoin('connector_definitions as d', 'd.id', 'r.definition_id')
      .select('r.id')
      .where('r.version_id', '=', v2.id)
      .where('d.version_id', '!=', v2.id)
      .execute()
    assert.deepEqual(crossVersion, [])
    const trigger = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/triggers/ProductChanged') })).body
    assert.equal(trigger.requestBody.definitions[0].definition.id, copiedProduct.id)
    const usesGone = copy.body.actions.find((a: { name: string }) => a.name === 'UsesGone')
    assert.equal(usesGone.errors[0].field, '/responses/0/definitions/0/definition')

    // Editing the copy leaves the source alone, and the other way round.
    await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v2', '/actions/Placeholder') })
    await t.request({ method: 'PUT', url: contentUrl(t, c, 'v2', '/definitions/Variant'), payload: { ...variant, name: 'Option' } })
    await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1', '/triggers/ProductChanged') })
    const sourceAfter = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions') })
    assert.deepEqual(sourceAfter.body.actions.map((a: { name: string }) => a.name), ['GetProduct', 'UsesGone', 'Placeholder'])
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Variant') })).status, 200)
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Option') })).status, 404)
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/triggers/ProductChanged') })).status, 200)

    // Deleting the source version removes only its content.
    await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1') })
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/actions') })).body.totalCount, 2)
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/definitions/Option') })).body.referencedBy[0].name, 'Product')
  })

  test('copying from an alias copies the version it resolves to', async () => {
    const c = await filledDraft()
    await publish(t, c, 'v1')
    await createVersion(t, c, 'v2', { fromVersion: 'latest' })
    const copy = await t.request({ method: 'GET', url: contentUrl(t, c, 'v2', '/definitions') })
    assert.equal(copy.body.totalCount, 2)
    const version = await t.request({ method: 'GET', url: contentUrl(t, c, 'v2') })
    assert.equal(version.body.publishedAt, null)
    // The draft copy can change although its source is published.
    assert.equal((await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v2', '/actions/GetProduct') })).status, 204)
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })).status, 200)
  })
})
