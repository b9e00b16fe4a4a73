import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp, createTarget, getAppDir, log, ROOT, serverCommand, serverTuning, setAppDir, type DialectName, type Target } from './common.ts'
import type { LoadResult } from './load-generator.ts'
import { explainHotQueries, type PlannedQuery } from './plans.ts'
import { pinningOf, pinProcesses, rssMb, startBaseline, startLoadGenerator, startServer, watchCpu, watchIoCalls, watchRss, type LoadGenerator, type Service } from './processes.ts'
import { summariseProfile } from './profile-summary.ts'
import { BASELINE_SCENARIO, fetchCursors, itemsFor, responseSizes, SCENARIOS, type Scenario, type ScenarioContext } from './scenarios.ts'
import { baselineRatios, catalogueOrder, median, pairedBaseline, roundSchedule, scaleRatios } from './schedule.ts'
import { seedCatalogue, type Catalogue, type Seeded } from './seed.ts'

/**
 * `npm run bench [-- options]`: the benchmark of the version API. See the usage text below.
 * It prints progress on stderr and the results (markdown) on stdout, and writes them as JSON
 * to bench/results/<timestamp>.json.
 */
const USAGE = `usage: npm run bench -- [options]
  --quick                 smoke run (< 2 min): short runs, a large catalogue of 1,000 x 100
  --dialect <d>           sqlite and/or postgres (repeatable; default sqlite, plus postgres when DATABASE_URL is set)
  --scale <s>             small and/or large (repeatable; default both)
  --scenario <key>        only these scenarios (repeatable); keys: ${SCENARIOS.map((s) => s.key).join(', ')}
  --duration <s>          measured seconds per scenario, split among the rounds (default 10, quick 0.2)
  --warmup <s>            warm-up seconds per scenario in its first run (default 3, quick 0.1; later
                          runs warm up for 1 s at most); every warm-up also makes at least one pass
                          over the scenario's requests, so that caches hold what it reads
  --rounds <n>            measure in n rounds of the schedule (default 3, quick 1) and report each
                          scenario's median run and the medians of the rounds' ratios. In a round,
                          each scenario with a baseline runs between two runs of that baseline, and
                          every step runs on each catalogue back to back, so every ratio compares
                          runs seconds apart: a slow spell of the machine spoils a round's ratio,
                          not the figures
  --connections <n>       concurrent connections (default 32)
  --large <NxM>           large catalogue size (default 10000x100)
  --server-flags=<flags>  extra node flags for the server process only, after those of \`npm start\`
                          (so they override them), e.g. --server-flags="--max-semi-space-size=4"
  --app-dir <dir>         run the server and CLI of another checkout (e.g. the previous commit) for an A/B comparison
  --profile               run the server under node --cpu-prof (default: get-by-name on the large SQLite
                          catalogue) and print where the time goes
  --no-pin                let the servers and the load generator float instead of pinning them to
                          separate CPUs with taskset (default with 2+ CPUs: servers on the last
                          CPU, the load generator on CPU 0)
  --no-plans              skip the query-plan check
  --no-json               do not write bench/results/<timestamp>.json`

interface Options {
  quick: boolean
  dialects: DialectName[]
  scales: ('small' | 'large')[]
  scenarios: Scenario[]
  durationS: number
  warmupS: number
  rounds: number
  connections: number
  small: Catalogue
  large: Catalogue
  profile: boolean
  serverFlags: string[]
  plans: boolean
  json: boolean
  pin: boolean
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      dialect: { type: 'string', multiple: true },
      scale: { type: 'string', multiple: true },
      scenario: { type: 'string', multiple: true },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      large: { type: 'string' },
      'app-dir': { type: 'string' },
      'server-flags': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'no-plans': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      'no-json': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const quick = values.quick
  if (values['app-dir']) setAppDir(values['app-dir'])
  const positive = (text: string | undefined, fallback: number, what: string, min = Number.MIN_VALUE) => {
    if (text === undefined) return fallback
    const value = Number(text)
    if (!(value >= min)) throw new Error(`${what} must be a number ≥ ${min === Number.MIN_VALUE ? '0 (exclusive)' : min}, got ${JSON.stringify(text)}`)
    return value
  }
  const positiveInteger = (text: string | undefined, fallback: number, what: string) => {
    const value = positive(text, fallback, what, 1)
    if (!Number.isInteger(value)) throw new Error(`${what} must be a whole number, got ${JSON.stringify(text)}`)
    return value
  }
  const dialects = (values.dialect ?? (process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'])) as DialectName[]
  for (const d of dialects) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}`)
  if (dialects.includes('postgres') && !process.env.DATABASE_URL) throw new Error('--dialect postgres needs DATABASE_URL')
  const profile = values.profile
  const scales = (values.scale ?? (profile ? ['large'] : ['small', 'large'])) as Options['scales']
  for (const s of scales) if (s !== 'small' && s !== 'large') throw new Error(`unknown scale ${s}`)
  const keys = values.scenario ?? (profile ? ['get-by-name'] : SCENARIOS.map((s) => s.key))
  const scenarios = SCENARIOS.filter((s) => keys.includes(s.key))
  const unknown = keys.filter((k) => !SCENARIOS.some((s) => s.key === k))
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}`)
  let large: Catalogue = quick
    ? { label: 'large', connectors: 1_000, versionsPerConnector: 100 }
    : { label: 'large', connectors: 10_000, versionsPerConnector: 100 }
  if (values.large) {
    const match = /^(\d+)x(\d+)$/.exec(values.large)
    if (!match) throw new Error('--large must look like 10000x100')
    large = { label: 'large', connectors: Number(match[1]), versionsPerConnector: Number(match[2]) }
  }
  return {
    quick,
    dialects: profile && !values.dialect ? ['sqlite'] : dialects,
    scales,
    scenarios,
    durationS: positive(values.duration, quick ? 0.2 : 10, '--duration'),
    warmupS: positive(values.warmup, quick ? 0.1 : 3, '--warmup', 0),
    rounds: positiveInteger(values.rounds, quick ? 1 : 3, '--rounds'),
    connections: positive(values.connections, 32, '--connections'),
    small: { label: 'small', connectors: 100, versionsPerConnector: 10 },
    large,
    profile,
    serverFlags: values['server-flags']?.split(/\s+/).filter(Boolean) ?? [],
    plans: !values['no-plans'] && !profile,
    json: !values['no-json'],
    pin: !values['no-pin'] && os.availableParallelism() >= 2,
  }
}

interface ScenarioResult extends Omit<LoadResult, 'id'> {
  scenario: string
  title: string
  /** Highest RSS of the process serving the scenario, sampled every 50 ms, in MB. */
  peakRssMb: number
  /**
   * CPU time (user + system) the serving process spent per response in the measured window, in
   * microseconds. Unlike req/s it barely moves when other work competes for the cores.
   */
  cpuUsPerRequest?: number
  /**
   * Read and write system calls of the serving process per response in the measured window (all
   * its threads: socket reads and writes, SQLite's page reads, WAL writes and checkpoints).
   */
  ioCallsPerRequest?: { reads: number; writes: number }
  /**
   * Throughput relative to the matching baseline (same catalogue): the median of the rounds'
   * ratios, each against the baseline runs right before and after the scenario's (schedule.ts).
   */
  baselineRatio?: number
  baselineRatios?: number[]
  /** Large catalogue only: large/small throughput, the median of the rounds' (neighbouring runs). */
  scaleRatio?: number
  scaleRatios?: number[]
  /** Throughput relative to the bare constant-JSON route (the one of the same body size, if the scenario has one). */
  constantRatio?: number
  /**
   * Every run's figures (a baseline runs several times per round); the rest of the result is the
   * median run's (peak RSS: the highest). `index` is the run's step in the round's schedule.
   */
  rounds: { round: number; index: number; rps: number; p99Ms: number; cpuUsPerRequest?: number; windowUs: [number, number] }[]
}

interface CatalogueResult {
  catalogue: Catalogue
  seedSeconds: number
  rows: { connectors: number; versions: number; published: number; pinned: number }
  /** VmHWM of the server process when it stopped (whole life, including start-up). */
  serverPeakRssMb: number
  results: ScenarioResult[]
  plans?: { queries: PlannedQuery[]; statementsPerRequest: Record<string, number> }
}

interface DialectResult {
  dialect: DialectName
  catalogues: CatalogueResult[]
}

interface Prepared {
  target: Target
  catalogue: Catalogue
  seeded: Seeded
  server?: Service
  baseline?: Service
  profileDir?: string
}

const tag = (p: { target: Target; catalogue: Catalogue }) => `[${p.target.dialect}/${p.catalogue.label}]`

type Slice = Omit<ScenarioResult, 'rounds'> & { round: number; index: number }

/**
 * Measures every catalogue of a dialect: per round, the steps of the schedule (schedule.ts), each
 * on every catalogue back to back. Each catalogue has its own servers; an idle one costs nothing
 * measurable.
 */
async function measureCatalogues(options: Options, load: LoadGenerator, prepared: Prepared[]): Promise<CatalogueResult[]> {
  const contexts = []
  for (const p of prepared) {
    contexts.push({ seeded: p.seeded, cursors: await fetchCursors(p.server!.baseUrl, p.seeded), sizes: await responseSizes(p.server!.baseUrl, p.seeded) })
  }
  const steps = roundSchedule(options.scenarios)
  const slices: Slice[][] = prepared.map(() => [])
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, scenario] of steps.entries()) {
      for (const p of catalogueOrder(prepared, round, index)) {
        const at = prepared.indexOf(p)
        const service = scenario.onBaseline ? p.baseline! : p.server!
        const first = !slices[at]!.some((x) => x.scenario === scenario.key)
        const rss = watchRss(service.pid)
        const cpu = watchCpu(service.pid)
        const io = watchIoCalls(service.pid)
        const { id: _id, ...figures } = await load.run({
          baseUrl: service.baseUrl,
          connections: scenario.connections ?? options.connections,
          warmupS: first ? options.warmupS : Math.min(options.warmupS, REWARM_S),
          durationS: options.durationS / options.rounds,
          headers: scenario.onBaseline ? {} : { authorization: `Bearer ${p.seeded.apiKey}` },
          items: itemsFor(scenario.itemsOf ?? scenario.key, contexts[at]!),
        })
        cpu.stop()
        io.reads.stop()
        io.writes.stop()
        const cpuUs = cpu.within(figures.windowUs)
        const ioReads = io.reads.within(figures.windowUs)
        const ioWrites = io.writes.within(figures.windowUs)
        slices[at]!.push({
          round,
          index,
          scenario: scenario.key,
          title: scenario.title,
          ...figures,
          peakRssMb: rss.stop(),
          ...(cpuUs !== undefined && figures.requests > 0 ? { cpuUsPerRequest: cpuUs / figures.requests } : {}),
          ...(ioReads !== undefined && ioWrites !== undefined && figures.requests > 0
            ? { ioCallsPerRequest: { reads: ioReads / figures.requests, writes: ioWrites / figures.requests } }
            : {}),
        })
        const roundTag = options.rounds > 1 ? ` (round ${round + 1}/${options.rounds})` : ''
        log(
          `${tag(p)} ${scenario.key.padEnd(24)} ${figures.rps.toFixed(0).padStart(7)} req/s  ` +
            `p50 ${figures.p50Ms.toFixed(2)} ms  p99 ${figures.p99Ms.toFixed(2)} ms  non-2xx ${figures.non2xx}${roundTag}`,
        )
        if (figures.non2xx > 0 || figures.errors > 0) {
          log(`  status codes ${JSON.stringify(figures.statusCodes)}, errors ${figures.errors}, timeouts ${figures.timeouts}`)
        }
      }
    }
  }
  const results: CatalogueResult[] = []
  for (const [at, p] of prepared.entries()) results.push(await summarise(options, p, slices[at]!, contexts[at]!))
  return results
}

/** A catalogue's results from its slices: each scenario's median run and its ratios, and the query plans. */
async function summarise(options: Options, p: Prepared, slices: Slice[], context: ScenarioContext): Promise<CatalogueResult> {
  const results = options.scenarios
    .map((scenario) => slices.filter((x) => x.scenario === scenario.key))
    .filter((runs) => runs.length > 0)
    .map(medianRun)
  for (const r of results) {
    const scenario = SCENARIOS.find((s) => s.key === r.scenario)!
    const baseline = pairedBaseline(scenario, options.scenarios)
    if (baseline) {
      r.baselineRatios = baselineRatios(slices, scenario.key, baseline.key)
      r.baselineRatio = median(r.baselineRatios)
    }
    // Secondary, and not paired: the medians of the two scenarios' runs.
    const constant = results.find((b) => b.scenario === (scenario.bareHttp ?? BASELINE_SCENARIO.constant))
    if (constant && scenario.baseline) r.constantRatio = r.rps / constant.rps
  }
  let plans: CatalogueResult['plans']
  if (options.plans && p.catalogue.label === 'large') {
    log(`${tag(p)} explaining the hot queries`)
    try {
      plans = await explainHotQueries(p.target, context, p.catalogue)
    } catch (error) {
      // The measurements stand on their own; say what went wrong and carry on.
      log(`${tag(p)} query plans failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return {
    catalogue: p.catalogue,
    seedSeconds: p.seeded.seconds,
    rows: p.seeded.rows,
    serverPeakRssMb: rssMb(p.server!.pid, 'VmHWM') ?? 0,
    results,
    ...(plans ? { plans } : {}),
  }
}

/** Each scaled scenario's large/small ratio: the median of its rounds' (neighbouring runs). */
function addScaleRatios(catalogues: CatalogueResult[]): void {
  const small = catalogues.find((c) => c.catalogue.label === 'small')
  const large = catalogues.find((c) => c.catalogue.label === 'large')
  if (!small || !large) return
  const steps = (c: CatalogueResult) => c.results.flatMap((r) => r.rounds.map((x) => ({ ...x, scenario: r.scenario })))
  for (const r of large.results) {
    if (!SCENARIOS.find((s) => s.key === r.scenario)!.scaled) continue
    r.scaleRatios = scaleRatios(steps(small), steps(large), r.scenario)
    r.scaleRatio = median(r.scaleRatios)
  }
}

/** Warm-up of a scenario's later runs: the server is warm, the connections are new. */
const REWARM_S = 1

/**
 * One scenario's result from its runs: the run with the median throughput (the lower middle
 * one of an even count), whose latencies and CPU belong to the same window, with the highest
 * peak RSS of all runs and every run's figures kept.
 */
function medianRun(rounds: Slice[]): ScenarioResult {
  const byRps = [...rounds].sort((a, b) => a.rps - b.rps)
  const { round: _round, index: _index, ...middle } = byRps[Math.floor((byRps.length - 1) / 2)]!
  return {
    ...middle,
    peakRssMb: Math.max(...rounds.map((r) => r.peakRssMb)),
    rounds: rounds.map((r) => ({
      round: r.round,
      index: r.index,
      rps: r.rps,
      p99Ms: r.p99Ms,
      ...(r.cpuUsPerRequest !== undefined ? { cpuUsPerRequest: r.cpuUsPerRequest } : {}),
      windowUs: r.windowUs,
    })),
  }
}

/** The main thread's profile(s) of a server, restricted to the measured phases. */
function printProfiles(p: Prepared, result: CatalogueResult | undefined): void {
  const dir = p.profileDir!
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) : []
  if (files.length === 0) return log(`${tag(p)} no CPU profile was written`)
  const windows = (result?.results ?? []).flatMap((r) => r.rounds.map((round) => round.windowUs))
  for (const file of files) {
    const full = path.join(dir, file)
    process.stdout.write(`\n${tag(p)} ${summariseProfile(full, 25, windows)}\n(profile: ${path.relative(ROOT, full)})\n`)
  }
}

/**
 * One dialect: seed every catalogue into its own fresh database and start its servers (start-up
 * overlaps the next seeding), then measure the catalogues one after the other; an idle server
 * costs nothing measurable. `built` settles when the server's build is done: seeding runs the CLI
 * from its sources, so the first dialect's seeding overlaps the build and only starting the
 * servers waits for it.
 */
async function benchDialect(options: Options, load: LoadGenerator, dialect: DialectName, built: Promise<void>): Promise<DialectResult> {
  const catalogues = options.scales.map((s) => (s === 'small' ? options.small : options.large))
  const prepared: Prepared[] = []
  const result: DialectResult = { dialect, catalogues: [] }
  const needBaseline = options.scenarios.some((s) => s.onBaseline)
  // Each catalogue's servers start as soon as it is seeded, overlapping the next seeding.
  const starting: Promise<void>[] = []
  const startServices = async (p: Prepared) => {
    await built
    if (options.profile) p.profileDir = path.join(ROOT, 'bench', 'results', `profile-${stamp()}-${dialect}-${p.catalogue.label}`)
    await Promise.all([
      startServer(p.target, { nodeFlags: options.serverFlags, ...(p.profileDir ? { cpuProfileDir: p.profileDir } : {}) }).then((server) => {
        p.server = server
      }),
      needBaseline &&
        startBaseline(p.target).then((baseline) => {
          p.baseline = baseline
        }),
    ])
  }
  try {
    for (const catalogue of catalogues) {
      const target = await createTarget(dialect, process.env.DATABASE_URL, catalogue.label)
      const pending: Omit<Prepared, 'seeded'> = { target, catalogue }
      log(`${tag(pending)} seeding ${catalogue.connectors.toLocaleString('en')} connectors x ${catalogue.versionsPerConnector} versions`)
      let p: Prepared
      try {
        p = { ...pending, seeded: await seedCatalogue(target, catalogue) }
      } catch (error) {
        await target.drop()
        throw error
      }
      prepared.push(p)
      log(`${tag(p)} seeded ${(catalogue.connectors * catalogue.versionsPerConnector).toLocaleString('en')} versions in ${p.seeded.seconds.toFixed(1)} s`)
      const started = startServices(p)
      started.catch(() => {})
      starting.push(started)
    }
    await Promise.all(starting)
    for (const p of prepared) {
      log(`${tag(p)} server ready, idle RSS ${(rssMb(p.server!.pid) ?? 0).toFixed(0)} MB`)
    }
    result.catalogues.push(...(await measureCatalogues(options, load, prepared)))
    addScaleRatios(result.catalogues)
  } finally {
    await Promise.allSettled(starting)
    await Promise.all(prepared.flatMap((p) => [p.server?.stop(), p.baseline?.stop()]))
    for (const p of prepared) {
      if (p.profileDir) printProfiles(p, result.catalogues.find((c) => c.catalogue === p.catalogue))
      await p.target.drop()
    }
  }
  return result
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-')
}

// --- reporting --------------------------------------------------------------------------
const f0 = (n: number) => n.toFixed(0)
const f1 = (n: number) => n.toFixed(1)
const f2 = (n: number) => n.toFixed(2)

function markdown(options: Options, dialects: DialectResult[]): string {
  const out: string[] = []
  out.push(
    `Benchmark: ${options.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s per scenario` +
      (options.rounds > 1
        ? ` in ${options.rounds} rounds of the schedule (${f2(options.durationS / options.rounds)} s each, later warm-ups ${Math.min(options.warmupS, REWARM_S)} s; the median run is reported), `
        : ', ') +
      `autocannon in a separate process over loopback; ${os.cpus().length} CPU(s), Node ${process.version}.`,
  )
  out.push(
    `Catalogues: small = ${options.small.connectors} connectors x ${options.small.versionsPerConnector} versions; ` +
      `large = ${options.large.connectors.toLocaleString('en')} x ${options.large.versionsPerConnector} = ` +
      `${(options.large.connectors * options.large.versionsPerConnector).toLocaleString('en')} versions` +
      (options.large.connectors * options.large.versionsPerConnector < 1_000_000 ? ' (REDUCED: not the 1,000,000-version catalogue)' : '') +
      '.',
  )
  if (options.quick) out.push('QUICK RUN: short durations, figures are a smoke test only.')
  if (getAppDir() !== ROOT) out.push(`Server and CLI from ${getAppDir()}.`)
  const pinned = pinningOf()
  out.push(
    pinned
      ? `Pinned with taskset: servers (and baselines) on CPU ${pinned.server}, load generator on CPU ${pinned.load}.`
      : 'Not pinned: servers and load generator share the CPUs.',
  )
  const command = serverCommand()
  out.push(`Server: node ${[...command.nodeFlags, ...options.serverFlags, ...command.args.map((a) => (path.isAbsolute(a) ? path.relative(getAppDir(), a) : a))].join(' ')}.`)
  const tuning = Object.entries(serverTuning())
  out.push(tuning.length ? `Server settings from the environment: ${tuning.map(([k, v]) => `${k}=${v}`).join(', ')}.` : 'Server settings: the defaults.')
  for (const d of dialects) {
    out.push('', `### ${d.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`, '')
    out.push('| Scenario | Catalogue | req/s | req/s by round | p50 ms | p99 ms | non-2xx + errors | peak RSS MB | × baseline | × bare HTTP | large/small | B/resp | CPU µs/req | I/O calls/req (r / w) | load gen CPU % |')
    out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
    const sizedBaselines = options.scenarios.filter((s) => s.bareHttp).map((s) => s.title)
    for (const scenario of options.scenarios) {
      for (const c of d.catalogues) {
        const r = c.results.find((x) => x.scenario === scenario.key)
        if (!r) continue
        const scale = r.scaleRatio !== undefined ? f2(r.scaleRatio) : ''
        const baselineName = scenario.baseline ? ` (${scenario.baseline})` : ''
        out.push(
          `| ${scenario.title} | ${c.catalogue.label} | ${f0(r.rps)} | ${byRound(r)} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${r.non2xx + r.errors} | ` +
            `${f0(r.peakRssMb)} | ${r.baselineRatio !== undefined ? `${f2(r.baselineRatio)}${baselineName}` : ''} | ` +
            `${r.constantRatio !== undefined ? f2(r.constantRatio) : ''} | ${scale} | ${f0(r.bytesPerResponse)} | ` +
            `${r.cpuUsPerRequest !== undefined ? f0(r.cpuUsPerRequest) : ''} | ` +
            `${r.ioCallsPerRequest ? `${f1(r.ioCallsPerRequest.reads)} / ${f1(r.ioCallsPerRequest.writes)}` : ''} | ${f0(r.loadCpuShare * 100)} |`,
        )
      }
    }
    if (sizedBaselines.length > 0) {
      out.push('', `× bare HTTP: against the bare constant JSON route; for ${sizedBaselines.join(' and ')}, against the one sending a body of the same size.`)
    }
    out.push(
      '× baseline: the median of the rounds\' ratios, each against the baseline runs right before and after the scenario\'s; ' +
        'large/small: the median of the rounds\' ratios, each between the two catalogues\' runs of the step, back to back.',
    )
    out.push(
      'I/O calls/req: the serving process\'s read and write system calls per response (/proc/<pid>/io syscr / syscw, all threads): ' +
        'its socket\'s, and on SQLite the page reads that missed its cache, WAL writes and checkpoint copies.',
    )
    out.push('load gen CPU %: the load generator\'s share of its CPU in the measured window (near 100: the load generator, not the server, was the limit).')
    for (const c of d.catalogues) {
      out.push('', `${c.catalogue.label}: seeded ${c.rows.versions.toLocaleString('en')} versions in ${c.seedSeconds.toFixed(1)} s; server peak RSS (VmHWM) ${f0(c.serverPeakRssMb)} MB.`)
    }
    out.push('', ...targetChecks(options, d))
    for (const c of d.catalogues) if (c.plans) out.push('', ...planReport(c))
  }
  return out.join('\n')
}

/** The rounds' ratios behind a median, when there are several. */
function spread(ratios: number[] | undefined): string {
  return ratios && ratios.length > 1 ? ` (rounds: ${ratios.map(f2).join(' / ')})` : ''
}

/** Throughput of every run: one per round, or, for a baseline run around several scenarios, the range. */
function byRound(r: ScenarioResult): string {
  if (r.rounds.length <= 1) return ''
  const rounds = new Set(r.rounds.map((x) => x.round))
  if (rounds.size === r.rounds.length) return r.rounds.map((x) => f0(x.rps)).join(' / ')
  const rps = r.rounds.map((x) => x.rps)
  return `${f0(Math.min(...rps))}–${f0(Math.max(...rps))} (${rps.length} runs)`
}

function targetChecks(options: Options, d: DialectResult): string[] {
  const lines = ['Targets:']
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL')
  for (const c of d.catalogues) {
    const get = (key: string) => c.results.find((r) => r.scenario === key)
    for (const key of ['get-by-name', 'get-latest', 'get-default']) {
      const r = get(key)
      if (r?.baselineRatio !== undefined) {
        lines.push(`- ${mark(r.baselineRatio >= 0.6)} ${c.catalogue.label} ${key} ≥ 0.60 × SELECT baseline: ${f2(r.baselineRatio)}${spread(r.baselineRatios)}`)
      }
    }
    const update = get('update-draft')
    if (update?.baselineRatio !== undefined) {
      lines.push(`- ${mark(update.baselineRatio >= 0.5)} ${c.catalogue.label} update-draft ≥ 0.50 × UPDATE baseline: ${f2(update.baselineRatio)}${spread(update.baselineRatios)}`)
    }
    const first = get('list-versions-first')
    const alone = get('list-versions-first-1c')
    if (first) {
      lines.push(
        `- ${mark(first.p99Ms < 10)} ${c.catalogue.label} list-versions-first p99 < 10 ms at ${options.connections} connections: ${f2(first.p99Ms)} ms` +
          (alone ? ` (1 connection: p50 ${f2(alone.p50Ms)} ms, p99 ${f2(alone.p99Ms)} ms)` : ''),
      )
    }
    const peak = Math.max(0, ...c.results.filter((r) => !SCENARIOS.find((s) => s.key === r.scenario)?.onBaseline).map((r) => r.peakRssMb))
    if (peak > 0) lines.push(`- ${mark(peak < 200)} ${c.catalogue.label} server peak RSS under load < 200 MB: ${f0(peak)} MB`)
  }
  const large = d.catalogues.find((c) => c.catalogue.label === 'large')
  const small = d.catalogues.find((c) => c.catalogue.label === 'small')
  for (const r of large?.results ?? []) {
    if (r.scaleRatio !== undefined) {
      const why = r.scaleRatio < 0.8 ? clientLimit(r, small?.results.find((s) => s.scenario === r.scenario)) : ''
      lines.push(`- ${mark(r.scaleRatio >= 0.8)} ${r.scenario} large/small ≥ 0.80: ${f2(r.scaleRatio)}${spread(r.scaleRatios)}${why}`)
    }
  }
  return lines
}

/** Share of its CPU above which the load generator, not the server, sets the throughput. */
const CLIENT_BOUND_SHARE = 0.85

/**
 * A missed scale ratio whose large run kept the load generator busy measures the client as much
 * as the server: says so, with the server's own large/small figure (CPU per response, inverted).
 * The target still counts the throughput.
 */
function clientLimit(large: ScenarioResult, small: ScenarioResult | undefined): string {
  if (large.loadCpuShare < CLIENT_BOUND_SHARE) return ''
  const serverRatio =
    small?.cpuUsPerRequest !== undefined && large.cpuUsPerRequest !== undefined
      ? `; the server's CPU per response keeps ${f2(small.cpuUsPerRequest / large.cpuUsPerRequest)} (small / large)`
      : ''
  return ` — the load generator used ${f0(large.loadCpuShare * 100)} % of its CPU on the large catalogue, so this is partly the client's limit${serverRatio}`
}

function shorten(sqlText: string, max = 320): string {
  const flat = sqlText.replace(/\s+/g, ' ')
  return flat.length <= max ? flat : `${flat.slice(0, max / 2)} … ${flat.slice(-max / 2)}`
}

function planReport(c: CatalogueResult): string[] {
  const { queries, statementsPerRequest } = c.plans!
  const perRequest = Object.entries(statementsPerRequest).map(([k, n]) => `${k} ${n}`).join(', ')
  const lines = [
    `Query plans on the ${c.catalogue.label} catalogue: ${queries.length} distinct statements. ` +
      `Statements per request (transaction control included, API-key lookup excluded): ${perRequest}.`,
  ]
  for (const p of queries) {
    const status = [...p.flags.map((f) => `FLAG ${f}`), ...p.notes.map((n) => `note: ${n}`)].join('; ') || 'ok'
    lines.push(`- [${p.scenarios.join(', ')}] ${status}`, `  \`${shorten(p.sql)}\``)
    lines.push(`  plan: ${p.plan.map((l) => l.trim()).join(' / ')}`)
  }
  return lines
}

// --- main ---------------------------------------------------------------------------------
async function main(): Promise<void> {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
    process.exit(2)
  }
  const started = Date.now()
  log(`building ${getAppDir()} (npm run build) while the first catalogue is seeded`)
  const built = buildApp().then(() => log('build done'))
  built.catch(() => {})
  if (options.pin) pinProcesses({ server: os.availableParallelism() - 1, load: 0 })
  const load = startLoadGenerator()
  const dialects: DialectResult[] = []
  try {
    for (const dialect of options.dialects) dialects.push(await benchDialect(options, load, dialect, built))
  } finally {
    await load.stop()
  }
  if (options.profile) return

  const report = markdown(options, dialects)
  process.stdout.write(`\n${report}\n`)
  if (options.json) {
    const dir = path.join(ROOT, 'bench', 'results')
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `${stamp()}.json`)
    const document = {
      startedAt: new Date(started).toISOString(),
      elapsedSeconds: (Date.now() - started) / 1000,
      arguments: process.argv.slice(2),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() },
      settings: {
        quick: options.quick,
        appDir: getAppDir(),
        serverFlags: options.serverFlags,
        serverEnvironment: serverTuning(),
        connections: options.connections,
        warmupS: options.warmupS,
        durationS: options.durationS,
        small: options.small,
        large: options.large,
      },
      dialects,
    }
    fs.writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`)
    log(`results written to ${path.relative(ROOT, file)}`)
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
