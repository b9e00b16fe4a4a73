import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildTestApp, connectorBody, type TestApp, type TestOrg, type TestResponse } from '../helpers/app.ts'

/**
 * ListConnectors, ListPublicConnectors and ListConnectorVersions: filters, sort, keyset
 * pagination in both directions, page-size limits and cursor integrity. Each describe works in
 * organisations of its own so the listings do not see each other's connectors.
 */

let t: TestApp
before(async () => {
  t = await buildTestApp()
})
after(async () => {
  await t.close()
})

const pause = (ms = 3) => new Promise((resolve) => setTimeout(resolve, ms))

interface Item {
  id: string
  name: string
  createdAt: string
  updatedAt: string
}

async function create(org: TestOrg, overrides: Record<string, unknown> = {}): Promise<Item & Record<string, unknown>> {
  const res = await t.request({ method: 'POST', url: `/o/${org.id}/protocols/http/connectors`, payload: connectorBody(overrides), as: org })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

async function addVersion(org: TestOrg, connectorId: string, name: string): Promise<void> {
  const res = await t.request({ method: 'POST', url: `/o/${org.id}/connectors/${connectorId}/versions`, payload: { name }, as: org })
  assert.equal(res.status, 201, JSON.stringify(res.body))
}

async function versionAction(org: TestOrg, connectorId: string, name: string, action: 'publish' | 'unpublish'): Promise<void> {
  const res = await t.request({ method: 'POST', url: `/o/${org.id}/connectors/${connectorId}/versions/${name}/${action}`, as: org })
  assert.equal(res.status, 200, JSON.stringify(res.body))
}

async function setCategories(org: TestOrg, connectorId: string, categories: string[]): Promise<void> {
  const res = await t.request({ method: 'PUT', url: `/o/${org.id}/connectors/${connectorId}/categories`, payload: { categories }, as: org })
  assert.equal(res.status, 204, JSON.stringify(res.body))
}

function withQuery(path: string, query: Record<string, string | string[] | number | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

/** The array of items in a page, whichever listing it came from. */
function itemsOf(res: TestResponse): Item[] {
  return (res.body.connectors ?? res.body.items) as Item[]
}

async function get(url: string, as: TestOrg = t.org): Promise<TestResponse> {
  const res = await t.request({ method: 'GET', url, as })
  assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`)
  return res
}

async function idsOf(url: string, as: TestOrg = t.org): Promise<string[]> {
  return itemsOf(await get(url, as)).map((c) => c.id)
}

/**
 * Walks a listing forward via `next` from the first page, then backward via `prev` from the
 * last page, and checks both walks reproduce `expected` exactly (no repeats, no skips), with
 * `totalCount` on every page and `prev`/`next` absent exactly at the ends.
 */
async function checkPaging(path: string, query: Record<string, string | string[] | undefined>, first: number, expected: string[], as: TestOrg = t.org) {
  assert.ok(expected.length > 2 * first, 'the listing must span at least 3 pages')
  const forward: string[][] = []
  let res = await get(withQuery(path, { ...query, first }), as)
  assert.equal(res.body.prev, undefined, 'the first page has no prev')
  for (;;) {
    assert.equal(res.body.totalCount, expected.length)
    const page = itemsOf(res).map((c) => c.id)
    assert.ok(page.length > 0 && page.length <= first, `page size ${page.length}`)
    forward.push(page)
    if (res.body.next === undefined) break
    assert.equal(page.length, first, 'only the last page may be short')
    res = await get(withQuery(path, { ...query, first, after: res.body.next }), as)
    assert.notEqual(res.body.prev, undefined, 'a page reached via next has a prev')
    assert.ok(forward.length <= expected.length, 'runaway pagination')
  }
  assert.ok(forward.length >= 3)
  assert.deepEqual(forward.flat(), expected, 'forward walk')

  const backward: string[][] = [forward[forward.length - 1]!]
  while (res.body.prev !== undefined) {
    res = await get(withQuery(path, { ...query, first, before: res.body.prev }), as)
    assert.equal(res.body.totalCount, expected.length)
    const page = itemsOf(res).map((c) => c.id)
    assert.equal(page.length, first, 'pages before the last are full')
    assert.notEqual(res.body.next, undefined, 'a page reached via prev has a next')
    backward.unshift(page)
    assert.ok(backward.length <= expected.length, 'runaway pagination')
  }
  assert.deepEqual(backward.flat(), expected, 'backward walk')
  return { forward, lastPage: res }
}

type Direction = 'asc' | 'desc'
const FIELD_COLUMN = { name: 'name', createdAt: 'created_at', updatedAt: 'updated_at', id: 'id' } as const
type Field = keyof typeof FIELD_COLUMN

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The order the API must produce, computed from the stored rows. */
async function expectedOrder(organisationId: string, keys: [Field, Direction][]): Promise<string[]> {
  const rows = await t.db.kysely.selectFrom('connectors').selectAll().where('organisation_id', '=', organisationId).execute()
  return [...rows]
    .sort((a, b) => {
      for (const [field, direction] of keys) {
        const c = compare(a[FIELD_COLUMN[field]], b[FIELD_COLUMN[field]])
        if (c !== 0) return direction === 'asc' ? c : -c
      }
      return 0
    })
    .map((r) => r.id)
}

/** Flips one character of a cursor at `index` to another base64url character. */
function flip(cursor: string, index: number): string {
  const c = cursor[index]!
  const replacement = c === 'A' ? 'B' : 'A'
  return cursor.slice(0, index) + replacement + cursor.slice(index + 1)
}

describe('ListConnectors: sort and pagination', () => {
  let org: TestOrg
  let path: string
  const COUNT = 22
  before(async () => {
    org = await t.newOrg('paging')
    path = `/o/${org.id}/connectors`
    // Lowercase names with repeats: ties are broken by id; the order is the same under any collation.
    const words = ['delta', 'alpha', 'charlie', 'bravo', 'echo']
    const created: Item[] = []
    for (let i = 0; i < COUNT; i++) created.push(await create(org, { name: `${words[i % words.length]}` }))
    // Touch some connectors out of creation order so updatedAt differs from createdAt.
    for (const i of [7, 2, 19, 11, 4]) {
      await pause()
      const res = await t.request({ method: 'PUT', url: `${path}/${created[i]!.id}/tags`, payload: { tags: { touched: [String(i)] } }, as: org })
      assert.equal(res.status, 204)
    }
  })

  test('the default order is updatedAt desc, id desc, with totalCount and 20 items by default', async () => {
    const expected = await expectedOrder(org.id, [['updatedAt', 'desc'], ['id', 'desc']])
    const res = await get(path, org)
    assert.equal(res.body.totalCount, COUNT)
    assert.deepEqual(itemsOf(res).map((c) => c.id), expected.slice(0, 20))
    assert.notEqual(res.body.next, undefined)
    assert.equal(res.body.prev, undefined)
    // The most recently touched connector is first.
    assert.deepEqual(itemsOf(res)[0]!.name, 'echo')
    const all = await get(withQuery(path, { first: 100 }), org)
    assert.deepEqual(itemsOf(all).map((c) => c.id), expected)
    assert.equal(all.body.next, undefined)
    assert.equal(all.body.prev, undefined)
  })

  test('default order: pagination forward and backward over 3+ pages', async () => {
    await checkPaging(path, {}, 4, await expectedOrder(org.id, [['updatedAt', 'desc'], ['id', 'desc']]), org)
  })

  const sorts: [string, [Field, Direction][]][] = [
    ['name:asc', [['name', 'asc'], ['id', 'asc']]],
    ['name:desc', [['name', 'desc'], ['id', 'desc']]],
    ['createdAt:asc', [['createdAt', 'asc'], ['id', 'asc']]],
    ['createdAt:desc', [['createdAt', 'desc'], ['id', 'desc']]],
    ['updatedAt:asc', [['updatedAt', 'asc'], ['id', 'asc']]],
    ['updatedAt:desc', [['updatedAt', 'desc'], ['id', 'desc']]],
    ['id:asc', [['id', 'asc']]],
    ['id:desc', [['id', 'desc']]],
    ['name:asc,updatedAt:desc', [['name', 'asc'], ['updatedAt', 'desc'], ['id', 'desc']]],
    ['name:desc,id:asc', [['name', 'desc'], ['id', 'asc']]],
  ]
  for (const [sort, keys] of sorts) {
    test(`sort=${sort}: full order and pagination both ways`, async () => {
      const expected = await expectedOrder(org.id, keys)
      assert.deepEqual(await idsOf(withQuery(path, { sort, first: 100 }), org), expected)
      await checkPaging(path, { sort }, 5, expected, org)
    })
  }

  test('name sort really sorts by name', async () => {
    const names = itemsOf(await get(withQuery(path, { sort: 'name:asc', first: 100 }), org)).map((c) => c.name)
    assert.deepEqual(names, [...names].sort())
    assert.equal(names[0], 'alpha')
    assert.equal(names[names.length - 1], 'echo')
  })

  for (const sort of ['name', 'name:up', 'colour:asc', 'name:asc,name:desc', 'Name:asc', 'name:ASC', ':asc', 'name:asc,', '']) {
    test(`invalid sort ${JSON.stringify(sort)} → 400`, async () => {
      const res = await t.request({ method: 'GET', url: `${path}?sort=${encodeURIComponent(sort)}`, as: org })
      if (sort === '') {
        // An empty sort is either ignored or rejected, never a 5xx.
        assert.ok(res.status === 200 || res.status === 400, String(res.status))
        return
      }
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(res.body.fields.some((f: { field: string }) => f.field.endsWith('sort')), JSON.stringify(res.body.fields))
    })
  }

  test('first: 1 and 100 are accepted; 0, 101, -1, 1.5 and abc are 400', async () => {
    assert.equal(itemsOf(await get(withQuery(path, { first: 1 }), org)).length, 1)
    assert.equal(itemsOf(await get(withQuery(path, { first: 100 }), org)).length, COUNT)
    for (const first of ['0', '101', '-1', '1.5', 'abc', '1e9']) {
      const res = await t.request({ method: 'GET', url: `${path}?first=${first}`, as: org })
      assert.equal(res.status, 400, `first=${first}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(res.body.fields.some((f: { field: string }) => f.field === 'querystring.first'), JSON.stringify(res.body.fields))
    }
  })

  test('after and before together → 400', async () => {
    const page = await get(withQuery(path, { first: 5 }), org)
    const second = await get(withQuery(path, { first: 5, after: page.body.next }), org)
    const res = await t.request({ method: 'GET', url: withQuery(path, { first: 5, after: page.body.next, before: second.body.prev }), as: org })
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'validation_failed')
  })

  test('an edited, truncated or invented cursor → 400 invalid_cursor', async () => {
    const page = await get(withQuery(path, { first: 5 }), org)
    const cursor = String(page.body.next)
    const dot = cursor.indexOf('.')
    assert.ok(dot > 0, 'cursor has two halves')
    const forged = `${Buffer.from(JSON.stringify({ s: 'x', v: ['2000-01-01T00:00:00.000Z', '0'] })).toString('base64url')}.${cursor.slice(dot + 1)}`
    const tampered = [
      flip(cursor, 0),
      flip(cursor, Math.floor(dot / 2)),
      flip(cursor, dot - 1),
      flip(cursor, dot + 1),
      flip(cursor, cursor.length - 1),
      cursor.slice(0, -1),
      cursor.slice(0, dot),
      cursor.slice(0, dot + 1),
      cursor.slice(dot),
      `${cursor}.x`,
      `${cursor}A`,
      forged,
      'garbage',
      'a.b',
      'a.b.c',
      '....',
      '%%%',
    ]
    for (const bad of tampered) {
      for (const side of ['after', 'before'] as const) {
        const res = await t.request({ method: 'GET', url: withQuery(path, { first: 5, [side]: bad }), as: org })
        assert.equal(res.status, 400, `${side}=${bad}: ${JSON.stringify(res.body)}`)
        assert.equal(res.body.code, 'invalid_cursor', `${side}=${bad}`)
      }
    }
    // The untouched cursor still works.
    assert.equal((await get(withQuery(path, { first: 5, after: cursor }), org)).status, 200)
  })

  test('a cursor from another listing → 400 invalid_cursor', async () => {
    const other = await t.newOrg('other listing')
    for (let i = 0; i < 3; i++) await create(other, { name: `other ${i}` })
    const versionsOwner = await create(org, { name: 'zz versions owner' })
    for (const v of ['v1', 'v2', 'v3']) await addVersion(org, versionsOwner.id, v)

    const cursorOf = async (url: string, as: TestOrg) => {
      const res = await get(url, as)
      assert.notEqual(res.body.next, undefined, url)
      return String(res.body.next)
    }
    const foreign = {
      'other filter': await cursorOf(withQuery(path, { first: 1, name: 'a' }), org),
      'other protocol filter': await cursorOf(withQuery(path, { first: 1, protocol: 'http' }), org),
      'other sort': await cursorOf(withQuery(path, { first: 1, sort: 'updatedAt:desc,id:asc' }), org),
      'other org': await cursorOf(withQuery(`/o/${other.id}/connectors`, { first: 1 }), other),
      'versions listing': await cursorOf(withQuery(`${path}/${versionsOwner.id}/versions`, { first: 1 }), org),
    }
    for (const [label, cursor] of Object.entries(foreign)) {
      for (const side of ['after', 'before'] as const) {
        const res = await t.request({ method: 'GET', url: withQuery(path, { first: 1, [side]: cursor }), as: org })
        assert.equal(res.status, 400, `${label} (${side}): ${JSON.stringify(res.body)}`)
        assert.equal(res.body.code, 'invalid_cursor', label)
      }
    }
    // The other organisation's listing does not take this organisation's cursor either.
    const own = await cursorOf(withQuery(path, { first: 1 }), org)
    const res = await t.request({ method: 'GET', url: withQuery(`/o/${other.id}/connectors`, { first: 1, after: own }), as: other })
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'invalid_cursor')
    // A connectors cursor is not a versions cursor.
    const versions = await t.request({ method: 'GET', url: withQuery(`${path}/${versionsOwner.id}/versions`, { first: 1, after: own }), as: org })
    assert.equal(versions.status, 400)
    assert.equal(versions.body.code, 'invalid_cursor')
  })

  test("another organisation's listing is 403", async () => {
    const res = await t.request({ method: 'GET', url: path })
    assert.equal(res.status, 403)
    assert.equal(res.body.code, 'forbidden')
  })
})

describe('ListConnectors: name and protocol filters', () => {
  let org: TestOrg
  let path: string
  const byName = new Map<string, string>()
  before(async () => {
    org = await t.newOrg('filters')
    path = `/o/${org.id}/connectors`
    for (const name of ['Salesforce CRM', 'salesFORCE Marketing', 'HubSpot', '100% Real', 'a_b connector', 'aXb connector', 'back\\slash']) {
      byName.set((await create(org, { name })).id, name)
    }
  })

  async function names(query: Record<string, string>): Promise<string[]> {
    const res = await get(withQuery(path, { ...query, first: 100 }), org)
    const found = itemsOf(res).map((c) => c.name).sort()
    assert.equal(res.body.totalCount, found.length, 'totalCount counts the filtered set')
    return found
  }

  test('name is a case-insensitive substring match', async () => {
    assert.deepEqual(await names({ name: 'FORCE' }), ['Salesforce CRM', 'salesFORCE Marketing'])
    assert.deepEqual(await names({ name: 'force m' }), ['salesFORCE Marketing'])
    assert.deepEqual(await names({ name: 'hubspot' }), ['HubSpot'])
    assert.deepEqual(await names({ name: 'b c' }), ['aXb connector', 'a_b connector'])
    assert.deepEqual(await names({ name: 'nothing like it' }), [])
  })

  test('% and _ and \\ in the name filter match literally', async () => {
    assert.deepEqual(await names({ name: '%' }), ['100% Real'])
    assert.deepEqual(await names({ name: '0% r' }), ['100% Real'])
    assert.deepEqual(await names({ name: '_' }), ['a_b connector'])
    assert.deepEqual(await names({ name: 'a_b' }), ['a_b connector'])
    assert.deepEqual(await names({ name: '\\' }), ['back\\slash'])
    assert.deepEqual(await names({ name: '%%' }), [])
    assert.deepEqual(await names({ name: '__' }), [])
  })

  test('protocol is a case-insensitive substring match, with literal % and _', async () => {
    const all = [...byName.values()].sort()
    assert.deepEqual(await names({ protocol: 'http' }), all)
    assert.deepEqual(await names({ protocol: 'HTTP' }), all)
    assert.deepEqual(await names({ protocol: 'tT' }), all)
    assert.deepEqual(await names({ protocol: 'ftp' }), [])
    assert.deepEqual(await names({ protocol: '%' }), [])
    assert.deepEqual(await names({ protocol: 'h_tp' }), [])
    assert.deepEqual(await names({ protocol: 'http', name: 'sales' }), ['Salesforce CRM', 'salesFORCE Marketing'])
  })

  test('a filtered listing paginates within the filter', async () => {
    const expected = (await expectedOrder(org.id, [['updatedAt', 'desc'], ['id', 'desc']])).filter((id) => /c/i.test(byName.get(id)!))
    await checkPaging(path, { name: 'C' }, 1, expected, org)
  })
})

describe('ListConnectors: the name filter against its index', () => {
  // Patterns of 3+ characters are answered from the name index (SQLite FTS5 trigram, PostgreSQL
  // pg_trgm); shorter ones read the rows. Both paths must agree, and the index must follow
  // every create, rename and delete.
  let org: TestOrg
  let path: string
  before(async () => {
    org = await t.newOrg('name-index')
    path = `/o/${org.id}/connectors`
  })

  async function names(name: string, extra: Record<string, string> = {}): Promise<string[]> {
    const res = await get(withQuery(path, { ...extra, name, first: 100 }), org)
    const found = itemsOf(res).map((c) => c.name).sort()
    assert.equal(res.body.totalCount, found.length, `totalCount for ${JSON.stringify(name)}`)
    return found
  }

  async function rename(c: Item & Record<string, unknown>, name: string): Promise<void> {
    const res = await t.request({
      method: 'PUT',
      url: `${path}/${c.id}`,
      payload: { id: c.id, organisationId: c.organisationId, name, protocol: c.protocol, baseUrl: c.baseUrl },
      as: org,
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
  }

  test('create, rename and delete are seen by long and short patterns', async () => {
    const c = await create(org, { name: 'Quokka Payments' })
    const other = await create(org, { name: 'Wombat Ledger' })
    assert.deepEqual(await names('okka p'), ['Quokka Payments'])
    assert.deepEqual(await names('QUOKKA'), ['Quokka Payments'])
    assert.deepEqual(await names('qu'), ['Quokka Payments'])
    assert.deepEqual(await names('Q'), ['Quokka Payments'])

    await rename(c, 'Numbat Invoices')
    assert.deepEqual(await names('quokka'), [])
    assert.deepEqual(await names('qu'), [])
    assert.deepEqual(await names('numbat'), ['Numbat Invoices'])
    assert.deepEqual(await names('nu'), ['Numbat Invoices'])
    // An update that keeps the name (here: another base URL) keeps it findable.
    const res = await t.request({
      method: 'PUT',
      url: `${path}/${c.id}`,
      payload: { id: c.id, organisationId: c.organisationId, name: 'Numbat Invoices', protocol: 'http', baseUrl: 'https://other.example.com' },
      as: org,
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(await names('bat inv'), ['Numbat Invoices'])

    const deleted = await t.request({ method: 'DELETE', url: `${path}/${c.id}`, as: org })
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body))
    assert.deepEqual(await names('numbat'), [])
    assert.deepEqual(await names('nu'), [])
    assert.deepEqual(await names('wombat'), ['Wombat Ledger'])

    // A new connector under the deleted one's name is found once, as itself.
    const again = await create(org, { name: 'Numbat Invoices' })
    const res2 = await get(withQuery(path, { name: 'numbat', first: 100 }), org)
    assert.deepEqual(itemsOf(res2).map((x) => x.id), [again.id])
    await t.request({ method: 'DELETE', url: `${path}/${other.id}`, as: org })
    await t.request({ method: 'DELETE', url: `${path}/${again.id}`, as: org })
  })

  test('another organisation\'s connectors never match', async () => {
    const other = await t.newOrg('name-index-other')
    await create(other, { name: 'Platypus Sync' })
    assert.deepEqual(await names('platypus'), [])
    assert.deepEqual(await names('pl'), [])
  })

  test('short and long patterns agree on case, escaping and quotes', async () => {
    const created = []
    for (const name of ['HubSpot CRM', '50% Off_Deals', 'back\\slash\\path', 'The "Quoted" One', 'ab']) created.push(await create(org, { name }))
    assert.deepEqual(await names('hU'), ['HubSpot CRM'])
    assert.deepEqual(await names('HUBSPOT'), ['HubSpot CRM'])
    assert.deepEqual(await names('0%'), ['50% Off_Deals'])
    assert.deepEqual(await names('50% off_'), ['50% Off_Deals'])
    assert.deepEqual(await names('5_%'), [])
    assert.deepEqual(await names('f_d'), ['50% Off_Deals'])
    assert.deepEqual(await names('%_'), [])
    assert.deepEqual(await names('k\\s'), ['back\\slash\\path'])
    assert.deepEqual(await names('\\\\'), [])
    assert.deepEqual(await names('"quoted"'), ['The "Quoted" One'])
    assert.deepEqual(await names('"q'), ['The "Quoted" One'])
    assert.deepEqual(await names('" '), ['The "Quoted" One'])
    assert.deepEqual(await names('"'), ['The "Quoted" One'])
    assert.deepEqual(await names('quoted" one'), ['The "Quoted" One'])
    assert.deepEqual(await names('quoted one'), [])
    // A whole name shorter than a trigram is still found, by itself and by longer patterns not.
    assert.deepEqual(await names('AB'), ['ab'])
    assert.deepEqual(await names('abc'), [])
    for (const c of created) await t.request({ method: 'DELETE', url: `${path}/${c.id}`, as: org })
  })

  test('non-ASCII letters match in either case, accents are not ignored', async () => {
    const created = []
    for (const name of ['Über Eats', 'CAFÉ Crème', 'ПРИВЕТ мир', 'Ωmega Λογισμικό', '東京 Data']) created.push(await create(org, { name }))
    assert.deepEqual(await names('über'), ['Über Eats'])
    assert.deepEqual(await names('ÜBER EATS'), ['Über Eats'])
    assert.deepEqual(await names('Über'), ['Über Eats'])
    assert.deepEqual(await names('ü'), ['Über Eats'])
    assert.deepEqual(await names('üB'), ['Über Eats'])
    assert.deepEqual(await names('café'), ['CAFÉ Crème'])
    assert.deepEqual(await names('é'), ['CAFÉ Crème'])
    assert.deepEqual(await names('CRÈME'), ['CAFÉ Crème'])
    assert.deepEqual(await names('cafe'), [])
    assert.deepEqual(await names('привет МИР'), ['ПРИВЕТ мир'])
    assert.deepEqual(await names('пр'), ['ПРИВЕТ мир'])
    assert.deepEqual(await names('ωMEGA'), ['Ωmega Λογισμικό'])
    assert.deepEqual(await names('λΟΓ'), ['Ωmega Λογισμικό'])
    assert.deepEqual(await names('東京'), ['東京 Data'])
    assert.deepEqual(await names('京 d'), ['東京 Data'])
    for (const c of created) await t.request({ method: 'DELETE', url: `${path}/${c.id}`, as: org })
  })

  test('an indexed filter paginates under every sort', async () => {
    const fresh = await t.newOrg('name-index-paging')
    const freshPath = `/o/${fresh.id}/connectors`
    const words = ['Kestrel', 'kite', 'Osprey', 'KESTREL', 'falcon']
    for (let i = 0; i < 15; i++) {
      await create(fresh, { name: `${words[i % words.length]} ${i % 4}` })
      await pause()
    }
    for (const [sort, keys] of [
      [undefined, [['updatedAt', 'desc'], ['id', 'desc']]],
      ['name:asc', [['name', 'asc'], ['id', 'asc']]],
      ['createdAt:asc', [['createdAt', 'asc'], ['id', 'asc']]],
      ['name:desc,updatedAt:asc', [['name', 'desc'], ['updatedAt', 'asc'], ['id', 'asc']]],
    ] as [string | undefined, [Field, Direction][]][]) {
      const rows = await t.db.kysely.selectFrom('connectors').select(['id', 'name']).where('organisation_id', '=', fresh.id).execute()
      const nameOf = new Map(rows.map((r) => [r.id, r.name]))
      const expected = (await expectedOrder(fresh.id, keys)).filter((id) => /kestrel/i.test(nameOf.get(id)!))
      assert.equal(expected.length, 6)
      await checkPaging(freshPath, { name: 'esTRel', sort }, 2, expected, fresh)
    }
  })
})

describe('ListConnectors: tags and categories filters', () => {
  let org: TestOrg
  let path: string
  before(async () => {
    org = await t.newOrg('labels')
    path = `/o/${org.id}/connectors`
    const specs: [string, Record<string, string[]>, string[]][] = [
      ['t1', { env: ['prod'], team: ['core'] }, ['CRM']],
      ['t2', { env: ['dev'] }, ['ERP', 'HR']],
      ['t3', { beta: [] }, []],
      ['t4', { env: ['prod', 'dev'] }, ['HR']],
      ['t5', {}, ['AI/LLMs']],
      ['t6', { url: ['http://x'] }, []],
    ]
    for (const [name, tags, categories] of specs) {
      const c = await create(org, { name, tags })
      if (categories.length > 0) await setCategories(org, c.id, categories)
    }
  })

  async function names(query: Record<string, string | string[]>): Promise<string[]> {
    const res = await get(withQuery(path, { ...query, first: 100 }), org)
    const found = itemsOf(res).map((c) => c.name).sort()
    assert.equal(res.body.totalCount, found.length)
    return found
  }

  test('tags: key, key:value, and several that must all match', async () => {
    assert.deepEqual(await names({ tags: 'env' }), ['t1', 't2', 't4'])
    assert.deepEqual(await names({ tags: 'env:prod' }), ['t1', 't4'])
    assert.deepEqual(await names({ tags: 'env:prod,team:core' }), ['t1'])
    assert.deepEqual(await names({ tags: 'env:dev,env:prod' }), ['t4'])
    assert.deepEqual(await names({ tags: 'env,team' }), ['t1'])
    assert.deepEqual(await names({ tags: 'beta' }), ['t3'])
    assert.deepEqual(await names({ tags: 'env:staging' }), [])
    assert.deepEqual(await names({ tags: 'team:core,beta' }), [])
    assert.deepEqual(await names({ tags: 'ENV' }), [], 'tag keys match exactly')
    assert.deepEqual(await names({ tags: 'url:http://x' }), ['t6'], 'the value is everything after the first ":"')
    assert.deepEqual(await names({ tags: '' }), ['t1', 't2', 't3', 't4', 't5', 't6'])
  })

  test('tags: a filter without a key is 400', async () => {
    for (const tags of [':x', 'env,:x', ',']) {
      const res = await t.request({ method: 'GET', url: withQuery(path, { tags }), as: org })
      assert.equal(res.status, 400, `${tags}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'validation_failed')
    }
  })

  test('categories: any of them matches', async () => {
    assert.deepEqual(await names({ categories: 'CRM' }), ['t1'])
    assert.deepEqual(await names({ categories: ['CRM', 'HR'] }), ['t1', 't2', 't4'])
    assert.deepEqual(await names({ categories: ['HR', 'CRM', 'HR'] }), ['t1', 't2', 't4'])
    assert.deepEqual(await names({ categories: 'AI/LLMs' }), ['t5'])
    assert.deepEqual(await names({ categories: 'Accounting' }), [])
    assert.deepEqual(await names({ categories: 'HR', tags: 'env:prod' }), ['t4'])
  })

  test('categories: an unknown category is 400', async () => {
    for (const categories of [['Nope'], ['CRM', 'crm']]) {
      const res = await t.request({ method: 'GET', url: withQuery(path, { categories }), as: org })
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(res.body.fields.some((f: { field: string }) => f.field.startsWith('querystring.categories')), JSON.stringify(res.body.fields))
    }
  })

  test('a cursor from a differently filtered listing is rejected', async () => {
    const res = await get(withQuery(path, { first: 1, tags: 'env' }), org)
    const cursor = String(res.body.next)
    for (const query of [{ tags: 'env:prod' }, { categories: 'HR' }, {}]) {
      const r = await t.request({ method: 'GET', url: withQuery(path, { ...query, first: 1, after: cursor }), as: org })
      assert.equal(r.status, 400, JSON.stringify(query))
      assert.equal(r.body.code, 'invalid_cursor')
    }
    const same = await get(withQuery(path, { first: 1, tags: 'env', after: cursor }), org)
    assert.equal(itemsOf(same).length, 1)
  })
})

describe('ListPublicConnectors', () => {
  let owner: TestOrg
  let viewer: TestOrg
  const publicIds: string[] = []
  let publicWithVersions: Item
  let privateOne: Item
  let viewerPublic: Item
  before(async () => {
    owner = await t.newOrg('publisher')
    viewer = await t.newOrg('viewer')
    publicWithVersions = await create(owner, { name: 'Catalogue entry', public: true, tags: { kind: ['crm'] } })
    await addVersion(owner, publicWithVersions.id, 'v1')
    await addVersion(owner, publicWithVersions.id, 'v2')
    await addVersion(owner, publicWithVersions.id, 'v3')
    await versionAction(owner, publicWithVersions.id, 'v1', 'publish')
    await versionAction(owner, publicWithVersions.id, 'v3', 'publish')
    await versionAction(owner, publicWithVersions.id, 'v3', 'unpublish')
    privateOne = await create(owner, { name: 'Secret entry', public: false })
    await addVersion(owner, privateOne.id, 'v1')
    await versionAction(owner, privateOne.id, 'v1', 'publish')
    for (let i = 0; i < 5; i++) publicIds.push((await create(owner, { name: `Public extra ${i}`, public: true })).id)
    viewerPublic = await create(viewer, { name: 'Viewer public', public: true })
    publicIds.push(publicWithVersions.id, viewerPublic.id)
  })

  test('shows public connectors of every organisation and hides private ones', async () => {
    const res = await get(withQuery('/connectors', { first: 100 }), viewer)
    const ids = itemsOf(res).map((c) => c.id)
    assert.deepEqual([...ids].sort(), [...publicIds].sort())
    assert.equal(res.body.totalCount, publicIds.length)
    assert.ok(!ids.includes(privateOne.id))
    const entry = itemsOf(res).find((c) => c.id === publicWithVersions.id) as Item & { organisationId: string; public: boolean }
    assert.equal(entry.organisationId, owner.id)
    assert.equal(entry.public, true)
  })

  test('only published versions are shown, with their latest/default state', async () => {
    const res = await get(withQuery('/connectors', { name: 'catalogue' }), viewer)
    assert.equal(itemsOf(res).length, 1)
    const versions = (itemsOf(res)[0] as unknown as { versions: { name: string; isLatest: boolean; isDefault: boolean; publishedAt: string | null }[] }).versions
    assert.deepEqual(versions.map((v) => v.name), ['v1'])
    assert.equal(versions[0]!.isLatest, true)
    assert.equal(versions[0]!.isDefault, true)
    assert.notEqual(versions[0]!.publishedAt, null)
    // The owner's own listing shows every version, drafts included.
    const own = await get(withQuery(`/o/${owner.id}/connectors`, { name: 'catalogue' }), owner)
    const ownVersions = (itemsOf(own)[0] as unknown as { versions: { name: string }[] }).versions.map((v) => v.name).sort()
    assert.deepEqual(ownVersions, ['v1', 'v2', 'v3'])
  })

  test('a connector made private disappears from the catalogue', async () => {
    const hidden = await create(owner, { name: 'Briefly public', public: true })
    assert.ok((await idsOf(withQuery('/connectors', { first: 100 }), viewer)).includes(hidden.id))
    const res = await t.request({
      method: 'PUT',
      url: `/o/${owner.id}/connectors/${hidden.id}`,
      payload: { id: hidden.id, organisationId: owner.id, name: hidden.name, protocol: 'http', baseUrl: 'https://api.example.com' },
      as: owner,
    })
    assert.equal(res.status, 200)
    assert.ok(!(await idsOf(withQuery('/connectors', { first: 100 }), viewer)).includes(hidden.id))
  })

  test('filters apply to the catalogue', async () => {
    assert.deepEqual(await idsOf(withQuery('/connectors', { tags: 'kind:crm' }), viewer), [publicWithVersions.id])
    assert.deepEqual(await idsOf(withQuery('/connectors', { name: 'secret' }), viewer), [])
    assert.equal((await idsOf(withQuery('/connectors', { name: 'public extra' }), viewer)).length, 5)
  })

  test('paginates forward and backward over 3+ pages', async () => {
    const expected = itemsOf(await get(withQuery('/connectors', { first: 100, sort: 'name:asc' }), viewer)).map((c) => c.id)
    assert.equal(expected.length, publicIds.length)
    await checkPaging('/connectors', { sort: 'name:asc' }, 2, expected, viewer)
    const byDefault = itemsOf(await get(withQuery('/connectors', { first: 100 }), viewer)).map((c) => c.id)
    await checkPaging('/connectors', {}, 2, byDefault, viewer)
  })

  test('cursors do not cross between the catalogue and an organisation listing', async () => {
    const publicCursor = String((await get(withQuery('/connectors', { first: 1 }), owner)).body.next)
    const orgCursor = String((await get(withQuery(`/o/${owner.id}/connectors`, { first: 1 }), owner)).body.next)
    const a = await t.request({ method: 'GET', url: withQuery(`/o/${owner.id}/connectors`, { first: 1, after: publicCursor }), as: owner })
    assert.equal(a.status, 400)
    assert.equal(a.body.code, 'invalid_cursor')
    const b = await t.request({ method: 'GET', url: withQuery('/connectors', { first: 1, after: orgCursor }), as: owner })
    assert.equal(b.status, 400)
    assert.equal(b.body.code, 'invalid_cursor')
    const c = await t.request({ method: 'GET', url: withQuery('/connectors', { first: 1, after: flip(publicCursor, 2) }), as: owner })
    assert.equal(c.status, 400)
    assert.equal(c.body.code, 'invalid_cursor')
  })

  test('page-size limits apply; credentials are required', async () => {
    for (const first of ['0', '101', 'abc']) {
      const res = await t.request({ method: 'GET', url: `/connectors?first=${first}`, as: viewer })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'validation_failed')
    }
    const anonymous = await t.request({ method: 'GET', url: '/connectors', as: null })
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.body.code, 'unauthenticated')
  })
})

describe('ListConnectorVersions', () => {
  let connectorId: string
  let otherConnectorId: string
  let path: string
  const COUNT = 14
  before(async () => {
    connectorId = (await create(t.org, { name: 'Many versions' })).id
    otherConnectorId = (await create(t.org, { name: 'Other versions' })).id
    path = `/o/${t.org.id}/connectors/${connectorId}/versions`
    for (let i = 0; i < COUNT; i++) await addVersion(t.org, connectorId, `1.${i}.0`)
    for (const v of ['v1', 'v2', 'v3']) await addVersion(t.org, otherConnectorId, v)
    // Publishing moves updatedAt, so the order differs from creation order.
    for (const i of [3, 9, 0]) {
      await pause()
      await versionAction(t.org, connectorId, `1.${i}.0`, 'publish')
    }
  })

  async function expected(): Promise<string[]> {
    const rows = await t.db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', connectorId).execute()
    return [...rows].sort((a, b) => compare(b.updated_at, a.updated_at) || compare(b.id, a.id)).map((r) => r.id)
  }

  test('most recently updated first, totalCount, default page of 20', async () => {
    const res = await get(path)
    assert.equal(res.body.totalCount, COUNT)
    assert.deepEqual(itemsOf(res).map((v) => v.id), await expected())
    assert.equal(res.body.next, undefined)
    assert.equal(res.body.prev, undefined)
    assert.equal(itemsOf(res)[0]!.name, '1.0.0', 'the last one published is first')
  })

  test('paginates forward and backward over 3+ pages without repeats or skips', async () => {
    await checkPaging(path, {}, 4, await expected())
    await checkPaging(path, {}, 3, await expected())
  })

  test("a cursor from another connector's versions, or a tampered one, is 400 invalid_cursor", async () => {
    const otherCursor = String((await get(withQuery(`/o/${t.org.id}/connectors/${otherConnectorId}/versions`, { first: 1 }))).body.next)
    const ownCursor = String((await get(withQuery(path, { first: 1 }))).body.next)
    for (const cursor of [otherCursor, flip(ownCursor, 1), flip(ownCursor, ownCursor.length - 2), ownCursor.slice(0, -3), 'garbage']) {
      for (const side of ['after', 'before'] as const) {
        const res = await t.request({ method: 'GET', url: withQuery(path, { first: 1, [side]: cursor }) })
        assert.equal(res.status, 400, `${side}=${cursor}`)
        assert.equal(res.body.code, 'invalid_cursor')
      }
    }
  })

  test('page-size limits and after+before', async () => {
    for (const first of ['0', '101', 'abc']) {
      const res = await t.request({ method: 'GET', url: `${path}?first=${first}` })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(res.body.fields.some((f: { field: string }) => f.field === 'querystring.first'))
    }
    const page = await get(withQuery(path, { first: 2 }))
    const res = await t.request({ method: 'GET', url: withQuery(path, { first: 2, after: page.body.next, before: page.body.next }) })
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'validation_failed')
  })

  test('unknown connector → 404, another organisation → 403', async () => {
    const missing = await t.request({ method: 'GET', url: `/o/${t.org.id}/connectors/01J9ZQ00000000000000000000/versions` })
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'connector_not_found')
    const stranger = await t.newOrg('stranger')
    const forbidden = await t.request({ method: 'GET', url: path, as: stranger })
    assert.equal(forbidden.status, 403)
    assert.equal(forbidden.body.code, 'forbidden')
    const underOwn = await t.request({ method: 'GET', url: `/o/${stranger.id}/connectors/${connectorId}/versions`, as: stranger })
    assert.equal(underOwn.status, 404)
  })
})
