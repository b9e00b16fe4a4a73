import assert from 'node:assert/strict'
import type { TestApp, TestResponse } from '../helpers/app.ts'

/** Helpers shared by the versioned-content test files (not a test file itself). */

export function contentUrl(t: TestApp, connectorId: string, version: string, rest = ''): string {
  return `/o/${t.org.id}/connectors/${connectorId}/versions/${encodeURIComponent(version)}${rest}`
}

export function jsonDefinition(name: string, schema: unknown, accept: string[] = ['application/json']): Record<string, unknown> {
  return { name, accept, schema: { contentType: 'application/schema+json', content: JSON.stringify(schema) } }
}

/** A valid HTTP action: GET /items/{{ param.id }} answering 200 with `responseDefinition`. */
export function httpAction(name: string, responseDefinition: string | undefined, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'http',
    name,
    method: 'GET',
    path: '/items/{{ param.id }}',
    parameters: [{ name: 'id', in: 'path', required: true, type: 'string' }],
    responses: [{ status: 200, definitions: responseDefinition ? [{ definition: { name: responseDefinition } }] : [] }],
    ...overrides,
  }
}

export function httpTrigger(name: string, requestDefinition: string | undefined, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'http',
    name,
    method: 'POST',
    parameters: [{ name: 'X-Signature', in: 'header', required: true, type: 'string' }],
    requestBody: { required: true, definitions: requestDefinition ? [{ definition: { name: requestDefinition } }] : [] },
    responses: [{ status: 202, definitions: [] }],
    ...overrides,
  }
}

export async function createDefinitions(t: TestApp, connectorId: string, version: string, definitions: unknown[]): Promise<TestResponse> {
  const res = await t.request({ method: 'POST', url: contentUrl(t, connectorId, version, '/definitions'), payload: { definitions } })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res
}

export async function createOperation(
  t: TestApp,
  connectorId: string,
  version: string,
  kind: 'actions' | 'triggers',
  body: Record<string, unknown>,
): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await t.request({ method: 'POST', url: contentUrl(t, connectorId, version, `/${kind}`), payload: body })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

/** updatedAt of the connector and of one version, straight from the database. */
export async function stamps(t: TestApp, connectorId: string, versionName: string): Promise<{ connector: string; version: string }> {
  const connector = await t.db.kysely.selectFrom('connectors').select('updated_at').where('id', '=', connectorId).executeTakeFirstOrThrow()
  const version = await t.db.kysely
    .selectFrom('connector_versions')
    .select('updated_at')
    .where('connector_id', '=', connectorId)
    .where('name', '=', versionName)
    .executeTakeFirstOrThrow()
  return { connector: connector.updated_at, version: version.updated_at }
}

export function later(before: string, after: string): boolean {
  return Date.parse(after) > Date.parse(before)
}

export const tick = () => new Promise((resolve) => setTimeout(resolve, 3))
