import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, createConnector, createVersion, type TestApp } from '../helpers/app.ts'
import { contentUrl, createDefinitions, createOperation, httpAction, httpTrigger, jsonDefinition, later, stamps, tick } from './support.ts'

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

async function draft(name = 'v1'): Promise<string> {
  const connector = await createConnector(t)
  await createVersion(t, connector.id, name)
  await createDefinitions(t, connector.id, name, [jsonDefinition('Item', { type: 'object' })])
  return connector.id
}

describe('actions', () => {
  test('create, get, update (with rename) and delete an HTTP action', async () => {
    const c = await draft()
    const url = (rest: string) => contentUrl(t, c, 'v1', rest)
    const created = await createOperation(t, c, 'v1', 'actions', httpAction('GetItem', 'Item', { summary: 'Get item' }))
    assert.match(created.id, ULID)
    assert.equal(created.type, 'http')
    assert.equal(created.name, 'GetItem')
    assert.equal(created.summary, 'Get item')
    assert.equal(created.method, 'GET')
    assert.equal(created.path, '/items/{{ param.id }}')
    assert.deepEqual(created.errors, [])
    assert.deepEqual(created.parameters, [{ name: 'id', in: 'path', required: true, type: 'string' }])
    assert.equal(created.requestBody, undefined)
    const [response] = created.responses
    assert.match(response.id, ULID)
    assert.equal(response.status, 200)
    const link = response.definitions[0]
    assert.match(link.id, ULID)
    assert.equal(link.definition.name, 'Item')
    assert.deepEqual(link.definition.accept, ['application/json'])
    assert.match(link.definition.url, new RegExp(`/o/${t.org.id}/schemas/${c}/v1/Item\\.json$`))
    assert.deepEqual(link.definition.referencedBy, [{ type: 'action', id: created.id, name: 'GetItem' }])

    // The reference is a real relation row.
    const rows = await t.db.kysely.selectFrom('content_references').selectAll().where('action_id', '=', created.id).execute()
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.definition_id, link.definition.id)
    assert.equal(rows[0]!.id, link.id)

    const got = await t.request({ method: 'GET', url: url('/actions/GetItem') })
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, created)
    const def = await t.request({ method: 'GET', url: url('/definitions/Item') })
    assert.deepEqual(def.body.referencedBy, [{ type: 'action', id: created.id, name: 'GetItem' }])

    // PUT takes the action as read; ids of responses and links survive, the name may change.
    const put = await t.request({
      method: 'PUT',
      url: url('/actions/GetItem'),
      payload: { ...got.body, name: 'FetchItem', summary: 'Fetch item', description: 'Reads one item.' },
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    assert.equal(put.body.id, created.id)
    assert.equal(put.body.name, 'FetchItem')
    assert.equal(put.body.description, 'Reads one item.')
    assert.equal(put.body.responses[0].id, response.id)
    assert.equal(put.body.responses[0].definitions[0].id, link.id)
    assert.equal((await t.request({ method: 'GET', url: url('/actions/GetItem') })).body.code, 'action_not_found')
    assert.equal((await t.request({ method: 'GET', url: url('/actions/FetchItem') })).body.summary, 'Fetch item')

    // Omitted optional fields are cleared (PUT replaces).
    const { summary: _s, description: _d, ...bare } = put.body
    const cleared = await t.request({ method: 'PUT', url: url('/actions/FetchItem'), payload: bare })
    assert.equal(cleared.status, 200)
    assert.equal(cleared.body.summary, undefined)
    assert.equal(cleared.body.description, undefined)

    const del = await t.request({ method: 'DELETE', url: url('/actions/FetchItem') })
    assert.equal(del.status, 204)
    assert.equal((await t.request({ method: 'GET', url: url('/actions/FetchItem') })).status, 404)
    assert.equal((await t.request({ method: 'DELETE', url: url('/actions/FetchItem') })).body.code, 'action_not_found')
    const left = await t.db.kysely.selectFrom('content_references').selectAll().where('action_id', '=', created.id).execute()
    assert.equal(left.length, 0)
    assert.deepEqual((await t.request({ method: 'GET', url: url('/definitions/Item') })).body.referencedBy, [])
  })

  test('update refuses a changed id, a taken name and unknown definitions', async () => {
    const c = await draft()
    const url = (rest: string) => contentUrl(t, c, 'v1', rest)
    await createOperation(t, c, 'v1', 'actions', httpAction('A', 'Item'))
    await createOperation(t, c, 'v1', 'actions', httpAction('B', 'Item'))
    const a = (await t.request({ method: 'GET', url: url('/actions/A') })).body

    const wrongId = await t.request({ method: 'PUT', url: url('/actions/A'), payload: { ...a, id: '01J9ZQ00000000000000000000' } })
    assert.equal(wrongId.status, 400)
    assert.equal(wrongId.body.code, 'read_only_field')
    assert.deepEqual(wrongId.body.fields, [{ field: 'id', message: 'is read-only' }])

    const taken = await t.request({ method: 'PUT', url: url('/actions/A'), payload: { ...a, name: 'B' } })
    assert.equal(taken.status, 409)
    assert.equal(taken.body.code, 'action_name_conflict')

    const unknown = await t.request({
      method: 'PUT',
      url: url('/actions/A'),
      payload: { ...a, responses: [{ status: 200, definitions: [{ definition: { name: 'Nope' } }] }] },
    })
    assert.equal(unknown.status, 400)
    assert.equal(unknown.body.code, 'unknown_definition')
    assert.deepEqual(unknown.body.fields.map((f: { field: string }) => f.field), ['responses[0].definitions[0].definition'])

    const missing = await t.request({ method: 'PUT', url: url('/actions/Nope'), payload: a })
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'action_not_found')
    // Nothing changed.
    assert.deepEqual((await t.request({ method: 'GET', url: url('/actions/A') })).body, a)
  })

  test('create rules: http only, unique names, valid names, existing definitions (by name or id)', async () => {
    const c = await draft()
    const url = contentUrl(t, c, 'v1', '/actions')
    const soap = await t.request({ method: 'POST', url, payload: httpAction('Soap', 'Item', { type: 'soap' }) })
    assert.equal(soap.status, 400)
    assert.equal(soap.body.code, 'unsupported_type')

    await createOperation(t, c, 'v1', 'actions', httpAction('GetItem', 'Item'))
    const dup = await t.request({ method: 'POST', url, payload: httpAction('GetItem', 'Item') })
    assert.equal(dup.status, 409)
    assert.equal(dup.body.code, 'action_name_conflict')

    const badName = await t.request({ method: 'POST', url, payload: httpAction('get item', 'Item') })
    assert.equal(badName.status, 400)
    assert.equal(badName.body.code, 'validation_failed')
    assert.equal(badName.body.fields[0].field, 'name')

    const noResponses = await t.request({ method: 'POST', url, payload: { type: 'http', name: 'X', method: 'GET', path: '/', parameters: [] } })
    assert.equal(noResponses.status, 400)
    assert.equal(noResponses.body.code, 'validation_failed')

    const unknown = await t.request({
      method: 'POST',
      url,
      payload: httpAction('Post', undefined, { requestBody: { required: true, definitions: [{ definition: { id: '01J9ZQ00000000000000000000' } }] } }),
    })
    assert.equal(unknown.status, 400)
    assert.equal(unknown.body.code, 'unknown_definition')
    assert.equal(unknown.body.fields[0].field, 'requestBody.definitions[0].definition')

    const item = (await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/definitions/Item') })).body
    const byId = await createOperation(
      t,
      c,
      'v1',
      'actions',
      httpAction('Put', 'Item', { method: 'PUT', requestBody: { required: true, definitions: [{ definition: { id: item.id } }] } }),
    )
    assert.equal(byId.requestBody.required, true)
    assert.equal(byId.requestBody.definitions[0].definition.id, item.id)

    const stored = await t.db.kysely
      .selectFrom('connector_actions')
      .innerJoin('connector_versions', 'connector_versions.id', 'connector_actions.version_id')
      .select('connector_actions.name')
      .where('connector_versions.connector_id', '=', c)
      .orderBy('connector_actions.id')
      .execute()
    assert.deepEqual(stored.map((r) => r.name), ['GetItem', 'Put'])
  })

  test('list: creation order, pages with cursors, case-insensitive name filter', async () => {
    const c = await draft()
    for (const name of ['GetItem', 'ListItems', 'DeleteItem']) await createOperation(t, c, 'v1', 'actions', httpAction(name, 'Item'))
    const url = contentUrl(t, c, 'v1', '/actions')
    const first = await t.request({ method: 'GET', url: `${url}?first=2` })
    assert.equal(first.status, 200)
    assert.equal(first.body.totalCount, 3)
    assert.deepEqual(first.body.actions.map((a: { name: string }) => a.name), ['GetItem', 'ListItems'])
    assert.equal(first.body.prev, undefined)
    const second = await t.request({ method: 'GET', url: `${url}?first=2&after=${encodeURIComponent(first.body.next)}` })
    assert.deepEqual(second.body.actions.map((a: { name: string }) => a.name), ['DeleteItem'])
    assert.equal(second.body.next, undefined)
    const back = await t.request({ method: 'GET', url: `${url}?first=2&before=${encodeURIComponent(second.body.prev)}` })
    assert.deepEqual(back.body.actions.map((a: { name: string }) => a.name), ['GetItem', 'ListItems'])

    const filtered = await t.request({ method: 'GET', url: `${url}?name=LIST` })
    assert.equal(filtered.body.totalCount, 1)
    assert.equal(filtered.body.actions[0].name, 'ListItems')
    const percent = await t.request({ method: 'GET', url: `${url}?name=%25` })
    assert.equal(percent.body.totalCount, 0)

    // A cursor of another listing (the filtered one) is refused.
    const twoPages = await t.request({ method: 'GET', url: `${url}?name=item&first=1` })
    const foreign = await t.request({ method: 'GET', url: `${url}?after=${encodeURIComponent(twoPages.body.next)}` })
    assert.equal(foreign.status, 400)
    assert.equal(foreign.body.code, 'invalid_cursor')
    const tooMany = await t.request({ method: 'GET', url: `${url}?first=101` })
    assert.equal(tooMany.status, 400)
  })

  test('errors[] reports problems as JSON pointers; the version messages summarise them', async () => {
    const c = await draft()
    await createDefinitions(t, c, 'v1', [jsonDefinition('Other', { type: 'object' }), jsonDefinition('Xml', { type: 'object' }, ['application/xml'])])
    const noResponses = await createOperation(t, c, 'v1', 'actions', httpAction('NoResponses', undefined, { responses: [] }))
    assert.deepEqual(noResponses.errors, [
      { field: '/responses', message: 'At least one response is required for the action to be valid.', severity: 'error' },
    ])
    const undescribed = await createOperation(t, c, 'v1', 'actions', httpAction('Undescribed', undefined))
    assert.deepEqual(undescribed.errors.map((e: { field: string; severity: string }) => [e.field, e.severity]), [['/responses', 'warning']])

    const messy = await createOperation(
      t,
      c,
      'v1',
      'actions',
      httpAction('Messy', 'Item', {
        path: '/items/{{ param.missing }}',
        parameters: [
          { name: 'id', in: 'path', required: true, type: 'string' },
          { name: 'id', in: 'path', required: true, type: 'string' },
        ],
        responses: [
          { status: 200, definitions: [{ definition: { name: 'Item' } }, { definition: { name: 'Other' } }, { definition: { name: 'Xml' } }] },
          { status: 200, definitions: [] },
          { definitions: [] },
          { definitions: [] },
        ],
      }),
    )
    const got = messy.errors.map((e: { field: string; severity: string }) => `${e.severity} ${e.field}`)
    assert.deepEqual(got.sort(), [
      'error /parameters/1',
      'error /path',
      'error /responses/0/definitions/1',
      'error /responses/1/status',
      'error /responses/3',
      'warning /parameters/0',
      'warning /parameters/1',
    ])

    const version = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1') })
    assert.equal(version.status, 200)
    const [errors, warnings] = version.body.messages
    assert.equal(errors.severity, 'error')
    assert.match(errors.text, /^6 validation errors/)
    assert.equal(errors.detail.length, 6)
    assert.ok(errors.detail.includes('action "NoResponses" /responses: At least one response is required for the action to be valid.'))
    assert.equal(warnings.severity, 'warning')
    assert.equal(warnings.detail.length, 3)
    assert.ok(warnings.detail.some((line: string) => line.startsWith('action "Undescribed" /responses:')))

    // Fixing the action clears its errors on the next read.
    const fixed = await t.request({ method: 'PUT', url: contentUrl(t, c, 'v1', '/actions/NoResponses'), payload: { ...httpAction('NoResponses', 'Item'), id: noResponses.id } })
    assert.deepEqual(fixed.body.errors, [])
  })
})

describe('triggers', () => {
  test('create, list, get, update and delete an HTTP trigger', async () => {
    const c = await draft()
    const url = (rest: string) => contentUrl(t, c, 'v1', rest)
    const created = await createOperation(t, c, 'v1', 'triggers', httpTrigger('OrderCreated', 'Item', { summary: 'New order' }))
    assert.match(created.id, ULID)
    assert.equal(created.path, undefined)
    assert.equal(created.method, 'POST')
    assert.deepEqual(created.parameters, [{ name: 'X-Signature', in: 'header', required: true, type: 'string' }])
    assert.equal(created.requestBody.required, true)
    assert.equal(created.requestBody.definitions[0].definition.name, 'Item')
    assert.deepEqual(created.errors, [])
    const def = await t.request({ method: 'GET', url: url('/definitions/Item') })
    assert.deepEqual(def.body.referencedBy, [{ type: 'trigger', id: created.id, name: 'OrderCreated' }])
    const rows = await t.db.kysely.selectFrom('content_references').selectAll().where('trigger_id', '=', created.id).execute()
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.slot, '/requestBody/definitions')

    const list = await t.request({ method: 'GET', url: url('/triggers?name=order') })
    assert.equal(list.status, 200)
    assert.equal(list.body.totalCount, 1)
    assert.deepEqual(list.body.triggers, [created])

    // Triggers have no path parameters; other types are 400.
    const pathParam = await t.request({
      method: 'POST',
      url: url('/triggers'),
      payload: httpTrigger('Bad', 'Item', { parameters: [{ name: 'id', in: 'path', required: true, type: 'string' }] }),
    })
    assert.equal(pathParam.status, 400)
    const other = await t.request({ method: 'POST', url: url('/triggers'), payload: httpTrigger('Kafka', 'Item', { type: 'kafka' }) })
    assert.equal(other.body.code, 'unsupported_type')
    const dup = await t.request({ method: 'POST', url: url('/triggers'), payload: httpTrigger('OrderCreated', 'Item') })
    assert.equal(dup.body.code, 'trigger_name_conflict')

    const empty = await t.request({
      method: 'PUT',
      url: url('/triggers/OrderCreated'),
      payload: { ...created, requestBody: { required: true, definitions: [] } },
    })
    assert.equal(empty.status, 200)
    assert.deepEqual(empty.body.errors, [
      { field: '/requestBody/definitions', message: 'A request body is required but no definition describes it.', severity: 'warning' },
    ])
    assert.deepEqual((await t.request({ method: 'GET', url: url('/definitions/Item') })).body.referencedBy, [])

    assert.equal((await t.request({ method: 'DELETE', url: url('/triggers/OrderCreated') })).status, 204)
    assert.equal((await t.request({ method: 'GET', url: url('/triggers/OrderCreated') })).body.code, 'trigger_not_found')
  })
})

describe('addressing and access', () => {
  test('{version} accepts latest and default; unknown versions and connectors are 404; other orgs 403', async () => {
    const c = await draft()
    await createOperation(t, c, 'v1', 'actions', httpAction('GetItem', 'Item'))
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'latest', '/actions') })).body.code, 'version_not_found')
    assert.equal((await t.request({ method: 'POST', url: contentUrl(t, c, 'v1', '/publish') })).status, 200)
    for (const alias of ['latest', 'DEFAULT']) {
      const res = await t.request({ method: 'GET', url: contentUrl(t, c, alias, '/actions/GetItem') })
      assert.equal(res.status, 200, alias)
      assert.equal(res.body.name, 'GetItem')
    }
    assert.equal((await t.request({ method: 'GET', url: contentUrl(t, c, 'v9', '/actions') })).body.code, 'version_not_found')

    const other = await t.newOrg('other')
    const res403 = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions'), as: other })
    assert.equal(res403.status, 403)
    // Their connector under our organisation's path does not exist for us.
    const theirs = await createConnector(t, {}, other)
    const res404 = await t.request({ method: 'GET', url: contentUrl(t, theirs.id, 'v1', '/actions') })
    assert.equal(res404.status, 404)
    assert.equal(res404.body.code, 'connector_not_found')
    const write404 = await t.request({ method: 'POST', url: contentUrl(t, theirs.id, 'v1', '/actions'), payload: httpAction('X', undefined) })
    assert.equal(write404.body.code, 'connector_not_found')
    const unauthenticated = await t.request({ method: 'GET', url: contentUrl(t, c, 'v1', '/actions'), as: null })
    assert.equal(unauthenticated.status, 401)
  })

  test('every change moves the version\'s and the connector\'s updatedAt', async () => {
    const c = await draft()
    const url = (rest: string) => contentUrl(t, c, 'v1', rest)
    let before = await stamps(t, c, 'v1')
    const steps: [string, () => Promise<unknown>][] = [
      ['create action', () => createOperation(t, c, 'v1', 'actions', httpAction('A', 'Item'))],
      ['update action', async () => {
        const a = (await t.request({ method: 'GET', url: url('/actions/A') })).body
        return t.request({ method: 'PUT', url: url('/actions/A'), payload: { ...a, summary: 'x' } })
      }],
      ['delete action', () => t.request({ method: 'DELETE', url: url('/actions/A') })],
      ['create trigger', () => createOperation(t, c, 'v1', 'triggers', httpTrigger('T', 'Item'))],
      ['create definitions', () => createDefinitions(t, c, 'v1', [jsonDefinition('D', true)])],
      ['delete definition', () => t.request({ method: 'DELETE', url: url('/definitions/D') })],
    ]
    for (const [label, step] of steps) {
      await tick()
      await step()
      const now = await stamps(t, c, 'v1')
      assert.ok(later(before.version, now.version), `${label}: version updatedAt`)
      assert.ok(later(before.connector, now.connector), `${label}: connector updatedAt`)
      before = now
    }
    // A refused change moves nothing.
    await tick()
    await t.request({ method: 'POST', url: url('/actions'), payload: httpAction('B', 'Missing') })
    assert.deepEqual(await stamps(t, c, 'v1'), before)
  })
})
