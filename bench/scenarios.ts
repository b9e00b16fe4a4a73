import type { LoadItem } from './load-generator.ts'
import type { Seeded } from './seed.ts'

/** What the benchmark measures, as request lists the load generator cycles through. */

export type BaselineKey = 'constant' | 'select' | 'update'

export interface Scenario {
  key: string
  title: string
  /** Baseline the throughput is compared with (null for the baselines themselves). */
  baseline: BaselineKey | null
  /** Served by the baseline server rather than the real one. */
  onBaseline: boolean
  /** Scale-tracked scenario (large/small ratio printed). */
  scaled: boolean
  /** Concurrent connections when not the run's (the latency of one client alone). */
  connections?: number
  /** Request list of another scenario. */
  itemsOf?: string
  /**
   * The bare constant-JSON baseline its "× bare HTTP" ratio is taken against, when not the
   * version-sized one: one sending a body of the same size, for responses whose size grows with
   * the catalogue (a Connector lists all its versions).
   */
  bareHttp?: string
}

export const SCENARIOS: Scenario[] = [
  { key: 'baseline-constant', title: 'Baseline: bare Fastify, constant JSON', baseline: null, onBaseline: true, scaled: false },
  { key: 'baseline-select', title: 'Baseline: bare Fastify, 1 PK SELECT', baseline: null, onBaseline: true, scaled: false },
  { key: 'get-by-name', title: 'GetConnectorVersion by name', baseline: 'select', onBaseline: false, scaled: true },
  { key: 'get-latest', title: 'GetConnectorVersion latest', baseline: 'select', onBaseline: false, scaled: true },
  { key: 'get-default', title: 'GetConnectorVersion default', baseline: 'select', onBaseline: false, scaled: true },
  { key: 'list-versions-first', title: 'ListConnectorVersions first page', baseline: 'select', onBaseline: false, scaled: true },
  {
    key: 'list-versions-first-1c',
    title: 'ListConnectorVersions first page, 1 connection',
    baseline: null,
    onBaseline: false,
    scaled: false,
    connections: 1,
    itemsOf: 'list-versions-first',
  },
  { key: 'list-versions-cursor', title: 'ListConnectorVersions page via cursor', baseline: 'select', onBaseline: false, scaled: true },
  {
    key: 'baseline-connector-size',
    title: "Baseline: bare Fastify, constant JSON of a Connector's size",
    baseline: null,
    onBaseline: true,
    scaled: false,
  },
  { key: 'get-connector', title: 'GetConnector', baseline: 'select', onBaseline: false, scaled: true, bareHttp: 'baseline-connector-size' },
  { key: 'get-connector-gzip', title: 'GetConnector, gzip', baseline: 'select', onBaseline: false, scaled: true },
  {
    key: 'baseline-page-size',
    title: "Baseline: bare Fastify, constant JSON of a ListConnectors page's size",
    baseline: null,
    onBaseline: true,
    scaled: false,
  },
  {
    key: 'list-connectors-name',
    title: 'ListConnectors name filter',
    baseline: 'select',
    onBaseline: false,
    scaled: true,
    bareHttp: 'baseline-page-size',
  },
  { key: 'list-connectors-name-gzip', title: 'ListConnectors name filter, gzip', baseline: 'select', onBaseline: false, scaled: true },
  { key: 'baseline-update', title: 'Baseline: bare Fastify, 1 UPDATE … RETURNING', baseline: null, onBaseline: true, scaled: false },
  { key: 'update-draft', title: 'UpdateConnectorVersion (draft description)', baseline: 'update', onBaseline: false, scaled: true },
]

export const BASELINE_SCENARIO: Record<BaselineKey, string> = {
  constant: 'baseline-constant',
  select: 'baseline-select',
  update: 'baseline-update',
}

/**
 * Page sizes: the same number of items per page at every scale (the small catalogue has only
 * 10 versions per connector), so large/small compares like with like.
 */
export const LIST_CONNECTORS_FIRST = 10
export const LIST_VERSIONS_FIRST = 5

export interface ScenarioContext {
  seeded: Seeded
  /** `next` cursors of the first version page of sample connectors (connector id → cursor). */
  cursors: Map<string, string>
  /** Bytes of the bodies the size-matched baselines send (see responseSizes). */
  sizes: ResponseSizes
}

export interface ResponseSizes {
  connector: number
  connectorPage: number
}

const enc = encodeURIComponent
const ACCEPT_GZIP = { 'accept-encoding': 'gzip, deflate' }

export function itemsFor(key: string, { seeded, cursors, sizes }: ScenarioContext): LoadItem[] {
  const org = seeded.organisationId
  const base = (connectorId: string) => `/o/${org}/connectors/${connectorId}`
  const sample = seeded.sample
  switch (key) {
    case 'baseline-constant':
      return [{ method: 'GET', path: '/constant' }]
    case 'baseline-connector-size':
      return [{ method: 'GET', path: `/constant/${sizes.connector}` }]
    case 'baseline-page-size':
      return [{ method: 'GET', path: `/constant/${sizes.connectorPage}` }]
    case 'baseline-select':
      return sample.map((s) => ({ method: 'GET', path: `/versions/${s.versionId}` }))
    case 'baseline-update':
      return [0, 1].flatMap((round) =>
        sample.map((s): LoadItem => ({
          method: 'PUT',
          path: `/versions/${s.draftId}`,
          body: JSON.stringify({ description: `baseline body ${round ? 'B' : 'A'}` }),
        })),
      )
    case 'get-by-name':
      return sample.map((s) => ({ method: 'GET', path: `${base(s.id)}/versions/${enc(s.versionName)}` }))
    case 'get-latest':
      return sample.map((s) => ({ method: 'GET', path: `${base(s.id)}/versions/latest` }))
    case 'get-default':
      return sample.map((s) => ({ method: 'GET', path: `${base(s.id)}/versions/default` }))
    case 'list-versions-first':
      return sample.map((s) => ({ method: 'GET', path: `${base(s.id)}/versions?first=${LIST_VERSIONS_FIRST}` }))
    case 'list-versions-cursor':
      return sample.filter((s) => cursors.has(s.id)).map((s) => ({ method: 'GET', path: `${base(s.id)}/versions?first=${LIST_VERSIONS_FIRST}&after=${enc(cursors.get(s.id)!)}` }))
    case 'get-connector':
      return sample.map((s) => ({ method: 'GET', path: base(s.id) }))
    case 'list-connectors-name':
      return [{ method: 'GET', path: nameFilterPath(seeded) }]
    // What SDK clients send (undici's fetch, axios): the bodies that grow with the catalogue, compressed.
    case 'get-connector-gzip':
    case 'list-connectors-name-gzip':
      return itemsFor(key.slice(0, -'-gzip'.length), { seeded, cursors, sizes }).map((item) => ({ ...item, headers: ACCEPT_GZIP }))
    case 'update-draft':
      // Each visit of a draft flips its description between two bodies: every request changes it.
      return [0, 1].flatMap((round) =>
        sample.map((s): LoadItem => ({
          method: 'PUT',
          path: `${base(s.id)}/versions/${enc(s.draftName)}`,
          body: JSON.stringify({ name: s.draftName, description: `benchmark body ${round ? 'B' : 'A'}` }),
        })),
      )
    default:
      throw new Error(`unknown scenario ${key}`)
  }
}

/** Fetches the `next` cursor of the first version page of (up to `limit`) sample connectors. */
export async function fetchCursors(baseUrl: string, seeded: Seeded, limit = 200): Promise<Map<string, string>> {
  const cursors = new Map<string, string>()
  for (const s of seeded.sample.slice(0, limit)) {
    const response = await fetch(`${baseUrl}/o/${seeded.organisationId}/connectors/${s.id}/versions?first=${LIST_VERSIONS_FIRST}`, {
      headers: { authorization: `Bearer ${seeded.apiKey}` },
    })
    if (!response.ok) throw new Error(`listing versions for a cursor failed: ${response.status} ${await response.text()}`)
    const page = (await response.json()) as { next?: string }
    if (page.next) cursors.set(s.id, page.next)
  }
  return cursors
}

function nameFilterPath(seeded: Seeded): string {
  return `/o/${seeded.organisationId}/connectors?name=${enc(seeded.nameFilter)}&first=${LIST_CONNECTORS_FIRST}`
}

/**
 * Body sizes of GetConnector (the mean over sample connectors) and of the name filter's page, as
 * the server sends them, for the baselines that send constant JSON of the same size.
 */
export async function responseSizes(baseUrl: string, seeded: Seeded, limit = 20): Promise<ResponseSizes> {
  const bytesOf = async (path: string) => {
    const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${seeded.apiKey}` } })
    if (!response.ok) throw new Error(`GET ${path} failed: ${response.status} ${await response.text()}`)
    return (await response.arrayBuffer()).byteLength
  }
  const connectors = seeded.sample.slice(0, limit)
  let total = 0
  for (const s of connectors) total += await bytesOf(`/o/${seeded.organisationId}/connectors/${s.id}`)
  return { connector: Math.round(total / connectors.length), connectorPage: await bytesOf(nameFilterPath(seeded)) }
}
