import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, type TestApp } from '../helpers/app.ts'
import { contentUrl, createDefinitions, createOperation, httpAction, httpTrigger, jsonDefinition } from './support.ts'

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

async function draft(): Promise<string> {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, 'v1')
  return connector.id
}

const names = (list: { name: string }[]) => list.map((d) => d.name)

describe('definitions', () => {
  test('bulk create with references to each other (cycles included), to existing definitions by url, and to nothing', async () => {
    const c = await draft()
    const first = await createDefinitions(t, c, 'v1', [jsonDefinition('Address', { type: 'object', properties: { city: { type: 'string' } } })])
    const address = first.body.definitions[0]
    assert.match(address.id, ULID)
    assert.equal(address.url, `http://localhost:80/o/${t.org.id}/schemas/${c}/v1/Address.json`)
    assert.deepEqual(address.referencedBy, [])

    const res = await createDefinitions(t, c, 'v1', [
      jsonDefinition('Customer', { type: 'object', properties: { orders: { type: 'array', items: { $ref: '#/$defs/Order' } }, home: { $ref: address.url } } }),
      jsonDefinition('Order', { type: 'object', properties: { customer: { $ref: '#/$defs/Customer' }, local: { $ref: '#/$defs/Line' } }, $defs: { Line: { type: 'object' } } }),
    ])
    const [customer, order] = res.body.definitions
    assert.deepEqual(names(res.body.definitions), ['Customer', 'Order'])
    assert.deepEqual(customer.referencedBy, [{ type: 'definition', id: order.id, name: 'Order' }])
    assert.deepEqual(order.referencedBy, [{ type: 'definition', id: customer.id, name: 'Customer' }])
    const addressNow = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Address') })
    assert.deepEqual(addressNow.body.referencedBy, [{ type: 'definition', id: customer.id, name: 'Customer' }])

    // Stored as relation rows: Customer -> Order, Customer -> Address, Order -> Customer (Line is local).
    const rows = await t.db.kysely
      .selectFrom('content_references')
      .select(['source_definition_id', 'definition_id'])
      .where('source_definition_id', 'in', [customer.id, order.id])
      .execute()
    assert.deepEqual(
      rows.map((r) => `${r.source_definition_id}->${r.definition_id}`).sort(),
      [`${customer.id}->${order.id}`, `${customer.id}->${address.id}`, `${order.id}->${customer.id}`].sort(),
    )

    // A reference to a definition that exists nowhere is 400 and nothing is created.
    const dangling = await t.request({
      method: 'POST',
      url: contentUrl(t, c, 'v1', '/definitions'),
      payload: { definitions: [jsonDefinition('Broken', { $ref: '#/$defs/Nowhere' })] },
    })
    assert.equal(dangling.status, 400)
    assert.equal(dangling.body.code, 'unknown_definition')
    assert.equal(dangling.body.fields[0].field, 'definitions[0].schema.content')
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Broken') })).status, 404)

    // Names are unique per version, within the request too.
    const dupExisting = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/definitions'), payload: { definitions: [jsonDefinition('New', true), jsonDefinition('Order', true)] } })
    assert.equal(dupExisting.status, 409)
    assert.equal(dupExisting.body.code, 'definition_name_conflict')
    assert.equal(dupExisting.body.fields[0].field, 'definitions[1].name')
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/New') })).status, 404)
    const dupRequest = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/definitions'), payload: { definitions: [jsonDefinition('Twice', true), jsonDefinition('Twice', true)] } })
    assert.equal(dupRequest.body.code, 'definition_name_conflict')
    const badName = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/definitions'), payload: { definitions: [jsonDefinition('has.dot', true)] } })
    assert.equal(badName.status, 400)
    const empty = await t.request({
      method: 'POST',
      url: contentUrl(t, c, 'v1', '/definitions'),
      payload: { definitions: [{ name: 'Empty', accept: ['text/xml'], schema: { contentType: 'text/xml', content: '  ' } }] },
    })
    assert.equal(empty.status, 400)
    assert.equal(empty.body.code, 'validation_failed')
  })

  test('list pages and filters; get; update renames (references follow), keeps an omitted schema and clears description', async () => {
    const c = await draft()
    await createDefinitions(t, c, 'v1', [
      { ...jsonDefinition('Product', { type: 'object' }), description: 'A product' },
      jsonDefinition('ProductVariant', { type: 'object' }),
      jsonDefinition('Stock', { type: 'object', properties: { p: { $ref: '#/$defs/Product' } } }),
    ])
    const action = await createOperation(t, c, 'v1', 'actions', httpAction('GetProduct', 'Product'))
    const list = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions?first=2') })
    assert.equal(list.status, 200)
    assert.equal(list.body.totalCount, 3)
    assert.deepEqual(names(list.body.definitions), ['Product', 'ProductVariant'])
    const rest = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', `/definitions?first=2&after=${encodeURIComponent(list.body.next)}`) })
    assert.deepEqual(names(rest.body.definitions), ['Stock'])
    const filtered = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions?name=product') })
    assert.deepEqual(names(filtered.body.definitions), ['Product', 'ProductVariant'])

    const product = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Product') })
    assert.equal(product.status, 200)
    assert.equal(product.body.description, 'A product')
    assert.deepEqual(
      product.body.referencedBy.map((r: { type: string; name: string }) => `${r.type}:${r.name}`),
      ['action:GetProduct', 'definition:Stock'],
    )
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Nope') })).body.code, 'definition_not_found')

    const wrongId = await t.request({ method: 'PUT', url: contentUrl(t, c, 'v1', '/definitions/Product'), payload: { ...product.body, id: action.id } })
    assert.equal(wrongId.body.code, 'read_only_field')
    const taken = await t.request({ method: 'PUT', url: contentUrl(t, c, 'v1', '/definitions/Product'), payload: { ...product.body, name: 'Stock' } })
    assert.equal(taken.body.code, 'definition_name_conflict')

    const { description: _d, ...withoutDescription } = product.body
    const renamed = await t.request({
      method: 'PUT',
      url: contentUrl(t, c, 'v1', '/definitions/Product'),
      payload: { ...withoutDescription, name: 'Item', accept: ['application/json', 'text/json'] },
    })
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body))
    assert.equal(renamed.body.id, product.body.id)
    assert.equal(renamed.body.name, 'Item')
    assert.equal(renamed.body.description, undefined)
    assert.deepEqual(renamed.body.accept, ['application/json', 'text/json'])
    assert.equal(renamed.body.referencedBy.length, 2)
    // The action still links the same definition, under its new name, without errors.
    const a = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })
    assert.equal(a.body.responses[0].definitions[0].definition.name, 'Item')
    assert.deepEqual(a.body.errors, [])
    const raw = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/Item.json` })
    assert.deepEqual(raw.body, { type: 'object' })

    // A new schema replaces the document and its references.
    const stock = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Stock') })).body
    const replaced = await t.request({
      method: 'PUT',
      url: contentUrl(t, c, 'v1', '/definitions/Stock'),
      payload: { ...stock, schema: { contentType: 'application/schema+json', content: JSON.stringify({ $ref: '#/$defs/ProductVariant' }) } },
    })
    assert.equal(replaced.status, 200)
    const item = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Item') })
    assert.deepEqual(item.body.referencedBy.map((r: { name: string }) => r.name), ['GetProduct'])
    const variant = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/ProductVariant') })
    assert.deepEqual(variant.body.referencedBy.map((r: { name: string }) => r.name), ['Stock'])
  })

  test('GetRawSchema serves the document by name or id, with definition references as urls; XSD as stored', async () => {
    const c = await draft()
    const created = await createDefinitions(t, c, 'v1', [
      jsonDefinition('Line', { type: 'object' }),
      jsonDefinition('Order', { type: 'object', properties: { lines: { type: 'array', items: { $ref: '#/$defs/Line' } } } }),
      { name: 'Invoice', accept: ['application/xml'], schema: { contentType: 'text/xml', content: '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>' } },
    ])
    const [line, , invoice] = created.body.definitions
    assert.match(invoice.url, /\/Invoice\.xsd$/)
    const byName = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/Order.json` })
    assert.equal(byName.status, 200)
    assert.match(String(byName.headers['content-type']), /^application\/schema\+json/)
    assert.deepEqual(byName.body, { type: 'object', properties: { lines: { type: 'array', items: { $ref: line.url } } } })
    const byId = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/latest/${line.id}.json` })
    assert.equal(byId.status, 404, 'latest resolves to no version yet')
    const byIdDraft = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/${line.id}.json` })
    assert.deepEqual(byIdDraft.body, { type: 'object' })
    const xsd = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/Invoice.xsd` })
    assert.equal(xsd.status, 200)
    assert.match(String(xsd.headers['content-type']), /^text\/xml/)
    assert.equal(xsd.raw.body, '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    const missing = await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/Nope.json` })
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'definition_not_found')
    const other = await t.newOrg('other')
    assert.equal((await t.request({ method: 'GET', url: `/o/${t.org.id}/schemas/${c}/v1/Order.json`, as: other })).status, 403)
  })

  test('invalid JSON Schema documents are validation errors of the version (checked with a real validator)', async () => {
    const c = await draft()
    await createDefinitions(t, c, 'v1', [
      jsonDefinition('BadType', { type: 'strin' }),
      { name: 'NotJson', accept: ['application/json'], schema: { contentType: 'application/schema+json', content: '{ nope' } },
      jsonDefinition('Draft7', { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: 'id' }),
      jsonDefinition('Good7', { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', definitions: { a: { type: 'string' } } }),
      jsonDefinition('Draft4', { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' }),
      jsonDefinition('NoAccept', { type: 'object' }, []),
    ])
    const version = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })
    const [errors, warnings] = version.body.messages
    assert.equal(errors.severity, 'error')
    assert.deepEqual(errors.detail.map((d: string) => d.split(' /')[0]).sort(), ['definition "BadType"', 'definition "Draft7"', 'definition "NotJson"'])
    assert.ok(errors.detail.some((d: string) => d.startsWith('definition "BadType" /schema/content: The document is not a valid JSON Schema: /type')))
    assert.deepEqual(warnings.detail.map((d: string) => d.split(' /')[0]).sort(), ['definition "Draft4"', 'definition "NoAccept"'])
    const publish = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/publish') })
    assert.equal(publish.status, 400)
    assert.equal(publish.body.code, 'version_invalid')
    assert.deepEqual(publish.body.fields.map((f: { field: string }) => f.field).sort(), [
      'definitions.BadType.schema.content',
      'definitions.Draft7.schema.content',
      'definitions.NotJson.schema.content',
    ])
  })
})

describe('reference integrity', () => {
  test('deleting a referenced definition is 412 with referencedBy; force leaves errors; re-creating it repairs them', async () => {
    const c = await draft()
    await createDefinitions(t, c, 'v1', [
      jsonDefinition('Product', { type: 'object' }),
      jsonDefinition('Catalog', { type: 'array', items: { $ref: '#/$defs/Product' } }),
    ])
    const action = await createOperation(t, c, 'v1', 'actions', httpAction('GetProduct', 'Product'))
    const trigger = await createOperation(t, c, 'v1', 'triggers', httpTrigger('ProductChanged', 'Product'))
    const product = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Product') })).body

    const refused = await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1', '/definitions/Product') })
    assert.equal(refused.status, 412)
    assert.equal(refused.body.code, 'definition_referenced')
    assert.equal(refused.body.definition.id, product.id)
    assert.equal(refused.body.definition.name, 'Product')
    assert.deepEqual(
      refused.body.definition.referencedBy.map((r: { type: string; id: string; name: string }) => [r.type, r.name]),
      [['action', 'GetProduct'], ['definition', 'Catalog'], ['trigger', 'ProductChanged']],
    )
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Product') })).status, 200)
    assert.deepEqual((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })).body.messages, [])

    const forced = await t.request({ method: 'DELETE', url: contentUrl(t, c, 'v1', '/definitions/Product?force=true') })
    assert.equal(forced.status, 204)
    // The references stay, dangling: the database kept the rows and cleared the foreign key.
    const rows = await t.db.kysely.selectFrom('content_references').selectAll().where('target_name', '=', 'Product').execute()
    assert.equal(rows.length, 3)
    assert.ok(rows.every((r) => r.definition_id === null))

    const brokenAction = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })
    assert.deepEqual(brokenAction.body.errors, [
      {
        field: '/responses/0/definitions/0/definition',
        message: 'Definition "Product" was deleted; link another definition or remove this one.',
        severity: 'error',
      },
    ])
    assert.equal(brokenAction.body.responses[0].definitions[0].definition.name, 'Product')
    const brokenTrigger = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/triggers/ProductChanged') })
    assert.equal(brokenTrigger.body.errors[0].field, '/requestBody/definitions/0/definition')
    const version = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })
    assert.equal(version.body.messages[0].severity, 'error')
    assert.deepEqual(version.body.messages[0].detail.map((d: string) => d.split(' /')[0]), [
      'definition "Catalog"',
      'action "GetProduct"',
      'trigger "ProductChanged"',
    ])
    const blocked = await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/publish') })
    assert.equal(blocked.status, 400)
    assert.equal(blocked.body.code, 'version_invalid')
    assert.ok(blocked.body.fields.some((f: { field: string }) => f.field === 'actions.GetProduct.responses[0].definitions[0].definition'))

    // Updating the broken action while keeping the dangling link is allowed (the client sends back what it read).
    const kept = await t.request({ method: 'PUT', url: contentUrl(t, c, 'v1', '/actions/GetProduct'), payload: { ...brokenAction.body, summary: 's' } })
    assert.equal(kept.status, 200, JSON.stringify(kept.body))
    assert.equal(kept.body.errors.length, 1)

    // Re-creating a definition with that name repairs every dangling reference.
    const again = await createDefinitions(t, c, 'v1', [jsonDefinition('Product', { type: 'object' })])
    const newId = again.body.definitions[0].id
    assert.equal(again.body.definitions[0].referencedBy.length, 3)
    const repaired = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/GetProduct') })
    assert.deepEqual(repaired.body.errors, [])
    assert.equal(repaired.body.responses[0].definitions[0].definition.id, newId)
    assert.deepEqual((await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })).body.messages, [])
    assert.equal(trigger.name, 'ProductChanged')
    assert.equal(action.name, 'GetProduct')
  })

  test('DeleteDefinitions: by ids and names, all, 412 for references from outside the set, force', async () => {
    const c = await draft()
    const made = await createDefinitions(t, c, 'v1', [
      jsonDefinition('A', { type: 'object' }),
      jsonDefinition('B', { $ref: '#/$defs/A' }),
      jsonDefinition('C', { type: 'object' }),
      jsonDefinition('D', { type: 'object' }),
    ])
    const [a, b, cDef] = made.body.definitions
    await createOperation(t, c, 'v1', 'actions', httpAction('UsesD', 'D'))
    const url = contentUrl(t, c, 'v1', '/definitions')
    const del = (payload: object, query = '') => t.request({ method: 'DELETE', url: `${url}${query}`, payload })

    assert.equal((await del({})).status, 400)
    assert.equal((await del({ all: true, names: ['A'] })).body.code, 'validation_failed')
    const both = await del({ ids: [a.id], names: ['A'] })
    assert.equal(both.status, 400)
    assert.equal(both.body.fields[0].field, 'names[0]')
    const unknown = await del({ names: ['Nope'] })
    assert.equal(unknown.status, 404)
    assert.equal(unknown.body.code, 'definition_not_found')

    // A alone is referenced by B: 412. A with B goes (the reference is inside the deleted set).
    const alone = await del({ ids: [a.id] })
    assert.equal(alone.status, 412)
    assert.equal(alone.body.definition.name, 'A')
    assert.deepEqual(alone.body.definition.referencedBy, [{ type: 'definition', id: b.id, name: 'B' }])
    assert.equal((await del({ ids: [a.id], names: ['B', 'C'] })).status, 204)
    let left = await t.request({ method: 'GET', url })
    assert.deepEqual(names(left.body.definitions), ['D'])
    assert.equal(cDef.name, 'C')

    const all = await del({ all: true })
    assert.equal(all.status, 412)
    assert.deepEqual(all.body.definition.referencedBy.map((r: { name: string }) => r.name), ['UsesD'])
    assert.equal((await del({ all: true }, '?force=true')).status, 204)
    left = await t.request({ method: 'GET', url })
    assert.equal(left.body.totalCount, 0)
    const action = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions/UsesD') })
    assert.equal(action.body.errors[0].severity, 'error')
  })
})
