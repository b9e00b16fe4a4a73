import { createRequire } from 'node:module'
import net from 'node:net'
import autocannon, { type Request, type Result } from 'autocannon'

/**
 * The load generator: a child process of bench/run.ts (forked with an IPC channel) that runs
 * autocannon programmatically, so the load does not share an event loop with the orchestrator
 * or with the server under test. One message per scenario: warm up, then measure.
 *
 * Requests cycle through `items` with one counter shared by all connections, so concurrent
 * requests address different rows (and, for writes, different connectors).
 */
export interface LoadItem {
  method: 'GET' | 'PUT'
  path: string
  body?: string
  /** Request headers of this item, on top of the run's. */
  headers?: Record<string, string>
}

export interface LoadSpec {
  id: number
  baseUrl: string
  connections: number
  warmupS: number
  durationS: number
  headers: Record<string, string>
  items: LoadItem[]
}

export interface LoadResult {
  id: number
  requests: number
  durationS: number
  rps: number
  /** Latency percentiles of 2xx responses in milliseconds, exact (autocannon's own are whole ms). */
  p50Ms: number
  p99Ms: number
  meanMs: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  bytesPerResponse: number
  /** The measured phase on the machine's monotonic clock (process.hrtime), in microseconds. */
  windowUs: [number, number]
  /** Share of one CPU the load generator used in the measured phase: near 1, it was the limit. */
  loadCpuShare: number
}

/**
 * autocannon 9 appends every response body, decoded as UTF-8, to a string it hands only to
 * `onResponse`, `verifyBody` and `expectBody`, none of which the benchmark uses. That decoding
 * cost the load generator CPU per byte (the large name filter's 268 KB pages: 26 % → 14 % of
 * its CPU at the same req/s); the body bytes are still received, parsed and counted (autocannon
 * counts bytes apart from bodies).
 */
const PipelinedRequestsQueue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js') as {
  prototype: { addBody(data: Buffer): void }
}
PipelinedRequestsQueue.prototype.addBody = () => {}

/**
 * autocannon reads its sockets the way `net` does by default: a fresh 64 KiB allocation for every
 * read, shrunk to what arrived. With large bodies that is most of the load generator's CPU: on
 * the large name filter's 268 KB pages, garbage collection took 35 % of it and allocation much
 * of the rest. Each connection here reads into one buffer of its own instead (`onread`), which
 * autocannon's parser is done with when the callback returns: it copies header lines into
 * strings, and the body slices it makes go to `addBody` above, which drops them.
 */
interface ClientState {
  secure: boolean
  ipc: boolean
  destroyed: boolean
  opts: { port: number; hostname: string; pipelining: number }
  conn: net.Socket
  parser: { execute(chunk: Buffer): unknown }
  pipelinedRequests: { addByteCount(count: number): void }
  readBuffer?: Buffer
  emit(event: string, ...args: unknown[]): boolean
  _connect(): void
  _doRequest(): void
}
const Client = createRequire(import.meta.url)('autocannon/lib/httpClient.js') as { prototype: ClientState }
const connectWithFreshBuffers = Client.prototype._connect
Client.prototype._connect = function (this: ClientState) {
  if (this.secure || this.ipc) return connectWithFreshBuffers.call(this)
  const buffer = (this.readBuffer ??= Buffer.allocUnsafe(64 * 1024))
  this.conn = net.connect({
    port: this.opts.port,
    host: this.opts.hostname,
    onread: {
      buffer,
      callback: (bytes, into) => {
        this.pipelinedRequests.addByteCount(bytes)
        this.parser.execute((into as Buffer).subarray(0, bytes))
        return true
      },
    },
  })
  // The rest as autocannon's own _connect does it.
  this.conn.on('error', (error) => {
    this.emit('connError', error)
    if (!this.destroyed) this._connect()
  })
  this.conn.on('end', () => {
    if (!this.destroyed) this._connect()
  })
  for (let i = 0; i < this.opts.pipelining; i++) this._doRequest()
}

/**
 * autocannon rebuilds a request's bytes before every request that has a `setupRequest` (header
 * objects merged and joined, then encoded): a fifth of the load generator's CPU, per request,
 * whatever the response. The run's items are fixed, so each item's bytes are built once, by
 * autocannon's own builder on first use, and sent again on every later visit. `itemOrder`
 * picks the next item from one counter shared by all connections.
 */
interface IteratorState {
  currentRequest: { requestBuffer?: Buffer }
  resetted: boolean
}
const RequestIterator = createRequire(import.meta.url)('autocannon/lib/requestIterator.js') as {
  prototype: { rebuildRequest(this: IteratorState): Buffer | null }
}
const buildRequestBytes = RequestIterator.prototype.rebuildRequest
let itemOrder = { next: 0, current: 0, built: [] as (Buffer | undefined)[] }
RequestIterator.prototype.rebuildRequest = function () {
  const index = itemOrder.next++ % itemOrder.built.length
  const built = itemOrder.built[index]
  if (built) {
    this.resetted = false
    this.currentRequest.requestBuffer = built
    return built
  }
  itemOrder.current = index
  const bytes = buildRequestBytes.call(this)
  itemOrder.built[index] = this.currentRequest.requestBuffer
  return bytes
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** A run lasts `durationS` seconds, or until `amount` responses when given. */
async function runOnce(spec: LoadSpec, length: { durationS: number } | { amount: number }, record: boolean): Promise<{ result: Result; latencies: Float64Array }> {
  const { items } = spec
  itemOrder = { next: 0, current: 0, built: new Array<Buffer | undefined>(items.length) }
  const request: Request = {
    setupRequest: (req) => {
      const item = items[itemOrder.current]!
      const headers = { ...req.headers, ...spec.headers, ...item.headers }
      if (item.body !== undefined) headers['content-type'] = 'application/json'
      return { ...req, method: item.method, path: item.path, headers, ...(item.body !== undefined ? { body: item.body } : {}) }
    },
  }
  let latencies = new Float64Array(1 << 16)
  let count = 0
  // autocannon stops on its sampling tick: a 100 ms tick keeps the run within 0.1 s of `durationS`.
  const instance = autocannon({
    url: spec.baseUrl,
    connections: spec.connections,
    ...('amount' in length ? { amount: length.amount } : { duration: length.durationS }),
    sampleInt: 100,
    timeout: 30,
    requests: [request],
  })
  if (record) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode < 200 || statusCode > 299) return
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[count++] = responseTime
    })
  }
  const result = await instance
  return { result, latencies: latencies.slice(0, count).sort() }
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupS > 0) {
    const { result } = await runOnce(spec, { durationS: spec.warmupS }, false)
    // A warm-up also makes one pass over every item, so that the caches hold what the measured
    // phase reads: after a write scenario changed the sampled connectors, a second's re-warm on
    // a slow machine rebuilt only some of 1,000 large connectors, and the run measured the rest.
    if (result.requests.total < spec.items.length) await runOnce(spec, { amount: spec.items.length }, false)
  }
  const from = Number(process.hrtime.bigint() / 1000n)
  const cpuBefore = process.cpuUsage()
  const { result, latencies } = await runOnce(spec, { durationS: spec.durationS }, true)
  const cpu = process.cpuUsage(cpuBefore)
  const to = Number(process.hrtime.bigint() / 1000n)
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0)
  let sum = 0
  for (const value of latencies) sum += value
  return {
    id: spec.id,
    requests,
    durationS: result.duration,
    rps: requests / result.duration,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    meanMs: latencies.length ? sum / latencies.length : 0,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    bytesPerResponse: requests ? result.throughput.total / requests : 0,
    windowUs: [from, to],
    loadCpuShare: (cpu.user + cpu.system) / (to - from),
  }
}

process.on('message', (spec: LoadSpec) => {
  run(spec).then(
    (result) => process.send!({ ok: true, result }),
    (error: unknown) => process.send!({ ok: false, id: spec.id, error: error instanceof Error ? error.stack : String(error) }),
  )
})
process.on('disconnect', () => process.exit(0))
