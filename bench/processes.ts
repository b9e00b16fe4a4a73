import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT, freePort, getAppDir, serverCommand, sleep, targetEnv, type Target } from './common.ts'
import type { LoadResult, LoadSpec } from './load-generator.ts'

/** The processes of a benchmark run: the server under test, the baseline server, the load generator. */

/**
 * CPUs the processes are pinned to (all their threads), or undefined to let them float. With
 * the servers and the load generator on separate cores, neither steals the other's core or
 * caches: on a 2-core machine CPU per response then varies a few per cent between runs instead
 * of tens.
 */
let pinning: { server: number; load: number } | undefined

export function pinProcesses(cpus: { server: number; load: number } | undefined): void {
  pinning = cpus
}

export function pinningOf(): { server: number; load: number } | undefined {
  return pinning
}

function pin(pid: number, cpu: number | undefined): void {
  if (cpu === undefined) return
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
  } catch (error) {
    throw new Error(`taskset could not pin process ${pid} to CPU ${cpu} (use --no-pin)`, { cause: error })
  }
}

export interface Service {
  name: string
  baseUrl: string
  pid: number
  stop(): Promise<void>
  /** Output of the process, for error messages. */
  output(): string
}

function collect(child: ChildProcess): () => string {
  let text = ''
  const add = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', add)
  child.stderr?.on('data', add)
  return () => text
}

/** Polls `url` until it answers 2xx; on failure the child is killed, never left behind. */
async function waitUntilReady(name: string, url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output()}`)
    try {
      const response = await fetch(url)
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new Error(`${name} did not become ready within 60 s:\n${output()}`)
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(timer)
  }
}

/**
 * The real server, `connector-registry serve`, in its own process, started the way `npm start`
 * starts it (built JavaScript and its node flags, see `serverCommand`) with production settings:
 * NODE_ENV=production, LOG_LEVEL=warn, the default API-key cache; the per-principal rate limit
 * is raised to its maximum with a 1 s window so it never answers 429 (it still runs).
 */
export async function startServer(target: Target, options: { cpuProfileDir?: string; nodeFlags?: string[] } = {}): Promise<Service> {
  const port = await freePort()
  const command = serverCommand()
  // Extra flags come after production's, so an experiment can override one of them.
  const execArgv = [
    ...command.nodeFlags,
    ...(options.nodeFlags ?? []),
    ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
  ]
  const child = spawn(process.execPath, [...execArgv, ...command.args], {
    cwd: getAppDir(),
    env: targetEnv(target, {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      RATE_LIMIT_MAX: '1000000',
      RATE_LIMIT_WINDOW_MS: '1000',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return serving('server', child, port, '/readyz')
}

export async function startBaseline(target: Target): Promise<Service> {
  const port = await freePort()
  const env = targetEnv(target, { PORT: String(port), SQLITE_FILE: target.sqliteFile, NODE_ENV: 'production' })
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'baseline-server.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return serving('baseline', child, port, '/constant')
}

/** A started server process once it answers on `readyPath`, pinned to the servers' CPU. */
async function serving(name: string, child: ChildProcess, port: number, readyPath: string): Promise<Service> {
  const output = collect(child)
  const baseUrl = `http://127.0.0.1:${port}`
  await waitUntilReady(name, `${baseUrl}${readyPath}`, child, output)
  pin(child.pid!, pinning?.server)
  return { name, baseUrl, pid: child.pid!, stop: stopper(child), output }
}

/** Resident set size of a process in MB: the current one (VmRSS) or the peak so far (VmHWM). */
export function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match ? Number(match[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

/** User + system CPU time a process has used, in microseconds (Linux /proc; undefined elsewhere). */
export function cpuUs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S) * 1e6
  } catch {
    return undefined
  }
}

const CLOCK_TICKS_PER_S = 100

/**
 * Read and write system calls a process has made, all its threads together (Linux
 * /proc/<pid>/io `syscr` / `syscw`: read, pread, readv …, write, pwrite, writev …, sockets and
 * files alike); undefined elsewhere. Unlike time, a count does not drift with the machine.
 */
export function ioCalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8')
    const reads = /^syscr:\s+(\d+)/m.exec(io)
    const writes = /^syscw:\s+(\d+)/m.exec(io)
    return reads && writes ? { reads: Number(reads[1]), writes: Number(writes[1]) } : undefined
  } catch {
    return undefined
  }
}

export interface CounterWatch {
  stop(): void
  /** How much the counter grew inside the window (monotonic clock, µs), interpolated between samples. */
  within(window: [number, number]): number | undefined
}

/**
 * Samples a process's CPU time against the monotonic clock, so the CPU spent inside a window
 * measured by another process (the load generator's `windowUs`) can be read off afterwards.
 */
export function watchCpu(pid: number, intervalMs = 20): CounterWatch {
  return watchCounter(() => cpuUs(pid), intervalMs)
}

/** Samples the read and write system calls of a process, as watchCpu samples its CPU time. */
export function watchIoCalls(pid: number, intervalMs = 20): { reads: CounterWatch; writes: CounterWatch } {
  return { reads: watchCounter(() => ioCalls(pid)?.reads, intervalMs), writes: watchCounter(() => ioCalls(pid)?.writes, intervalMs) }
}

function watchCounter(read: () => number | undefined, intervalMs: number): CounterWatch {
  const samples: [number, number][] = []
  const sample = () => {
    const value = read()
    if (value !== undefined) samples.push([Number(process.hrtime.bigint() / 1000n), value])
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  const at = (t: number): number | undefined => {
    const after = samples.findIndex(([time]) => time >= t)
    if (after <= 0) return undefined
    const [t0, c0] = samples[after - 1]!
    const [t1, c1] = samples[after]!
    return c0 + ((c1 - c0) * (t - t0)) / Math.max(1, t1 - t0)
  }
  return {
    stop() {
      clearInterval(timer)
      sample()
    },
    within([from, to]) {
      const start = at(from)
      const end = at(to)
      return start === undefined || end === undefined ? undefined : end - start
    },
  }
}

/** Polls a process's RSS until stopped; returns the highest value seen. */
export function watchRss(pid: number, intervalMs = 50): { stop(): number } {
  let peak = rssMb(pid) ?? 0
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid) ?? 0)
  }, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      peak = Math.max(peak, rssMb(pid) ?? 0)
      return peak
    },
  }
}

export interface LoadGenerator {
  run(spec: Omit<LoadSpec, 'id'>): Promise<LoadResult>
  stop(): Promise<void>
}

export function startLoadGenerator(): LoadGenerator {
  const child = fork(path.join(ROOT, 'bench', 'load-generator.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  pin(child.pid!, pinning?.load)
  let nextId = 1
  const pending = new Map<number, { resolve(result: LoadResult): void; reject(error: Error): void }>()
  child.on('message', (message: { ok: true; result: LoadResult } | { ok: false; id: number; error: string }) => {
    const id = message.ok ? message.result.id : message.id
    const waiter = pending.get(id)
    pending.delete(id)
    if (message.ok) waiter?.resolve(message.result)
    else waiter?.reject(new Error(`load generator: ${message.error}`))
  })
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`load generator exited with ${code}`))
    pending.clear()
  })
  return {
    run(spec) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        child.send({ ...spec, id })
      })
    },
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.disconnect()
      await exited
    },
  }
}
