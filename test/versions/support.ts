import assert from 'node:assert/strict'
import type { TestApp, TestOrg, TestResponse } from '../helpers/app.ts'

/** Helpers shared by the connector-version test files (not a test file itself). */

/** URL of the versions collection, or of one version (the segment is percent-encoded). */
export function versionsUrl(t: TestApp, connectorId: string, version?: string, org: TestOrg = t.org): string {
  const base = `/o/${org.id}/connectors/${connectorId}/versions`
  return version === undefined ? base : `${base}/${encodeURIComponent(version)}`
}

export function getVersion(t: TestApp, connectorId: string, ref: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return t.request({ method: 'GET', url: versionsUrl(t, connectorId, ref), headers })
}

export function putVersion(
  t: TestApp,
  connectorId: string,
  ref: string,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  return t.request({ method: 'PUT', url: versionsUrl(t, connectorId, ref), payload, headers })
}

export function postAction(
  t: TestApp,
  connectorId: string,
  ref: string,
  action: 'publish' | 'unpublish',
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  return t.request({ method: 'POST', url: `${versionsUrl(t, connectorId, ref)}/${action}`, headers })
}

export function deleteVersion(
  t: TestApp,
  connectorId: string,
  ref: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  return t.request({ method: 'DELETE', url: `${versionsUrl(t, connectorId, ref)}${query}`, headers })
}

export function assertError(res: TestResponse, status: number, code: string, fields?: string[]): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`)
  assert.equal(res.body.code, code, JSON.stringify(res.body))
  if (fields !== undefined) {
    const named = ((res.body.fields ?? []) as { field: string }[]).map((f) => f.field).sort()
    assert.deepEqual(named, [...fields].sort(), JSON.stringify(res.body))
  }
}

export async function versionRows(t: TestApp, connectorId: string) {
  return t.db.kysely.selectFrom('connector_versions').selectAll().where('connector_id', '=', connectorId).orderBy('id').execute()
}

export async function versionRow(t: TestApp, connectorId: string, name: string) {
  return t.db.kysely
    .selectFrom('connector_versions')
    .selectAll()
    .where('connector_id', '=', connectorId)
    .where('name', '=', name)
    .executeTakeFirst()
}

/** The pinned default's version id, or undefined when nothing is pinned. */
export async function pinnedId(t: TestApp, connectorId: string): Promise<string | undefined> {
  const row = await t.db.kysely.selectFrom('connector_defaults').selectAll().where('connector_id', '=', connectorId).executeTakeFirst()
  return row?.version_id
}

export async function connectorUpdatedAt(t: TestApp, connectorId: string): Promise<string> {
  const row = await t.db.kysely.selectFrom('connectors').select('updated_at').where('id', '=', connectorId).executeTakeFirstOrThrow()
  return row.updated_at
}

/** Everything that a rejected request must leave untouched. */
export async function snapshot(t: TestApp, connectorId: string): Promise<unknown> {
  return { versions: await versionRows(t, connectorId), pinned: await pinnedId(t, connectorId), connector: await connectorUpdatedAt(t, connectorId) }
}

/** Timestamps have millisecond precision: wait so that a bump is observable. */
export function tick(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function listVersions(t: TestApp, connectorId: string, org: TestOrg = t.org): Promise<TestResponse> {
  return t.request({ method: 'GET', url: `${versionsUrl(t, connectorId, undefined, org)}?first=100`, as: org })
}

/**
 * Asserts where `latest` and `default` point (a version name, or null when the alias resolves
 * to nothing): through both aliases (in two spellings each), and through the flags of every
 * item of ListConnectorVersions, which must mark at most one latest and one default.
 */
export async function assertPointers(t: TestApp, connectorId: string, expected: { latest: string | null; default: string | null }): Promise<void> {
  for (const [alias, want] of [
    ['latest', expected.latest],
    ['LaTeSt', expected.latest],
    ['default', expected.default],
    ['DEFAULT', expected.default],
  ] as const) {
    const res = await getVersion(t, connectorId, alias)
    if (want === null) {
      assertError(res, 404, 'version_not_found')
    } else {
      assert.equal(res.status, 200, `${alias}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.name, want, `${alias} resolves to ${res.body.name}, expected ${want}`)
      if (alias.toLowerCase() === 'latest') assert.equal(res.body.isLatest, true)
      else assert.equal(res.body.isDefault, true)
    }
  }
  const list = await listVersions(t, connectorId)
  assert.equal(list.status, 200)
  assertFlags(list.body.items, expected)
}

/** At most one isLatest and one isDefault, on exactly the expected versions. */
export function assertFlags(items: { name: string; isLatest: boolean; isDefault: boolean }[], expected: { latest: string | null; default: string | null }): void {
  const latest = items.filter((v) => v.isLatest).map((v) => v.name)
  const defaults = items.filter((v) => v.isDefault).map((v) => v.name)
  assert.deepEqual(latest, expected.latest === null ? [] : [expected.latest], 'isLatest flags')
  assert.deepEqual(defaults, expected.default === null ? [] : [expected.default], 'isDefault flags')
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
