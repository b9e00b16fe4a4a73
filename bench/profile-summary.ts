import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getAppDir, ROOT } from './common.ts'

/**
 * Where a `node --cpu-prof` profile spends its time: self time by function and by package
 * (or project file), and inclusive time of the project's own functions. Percentages are of the
 * busy time (everything but `(idle)`).
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

function groupOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const file = url.replace(/^file:\/\//, '')
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)
  if (modules) return modules[1]!
  if (file.startsWith('node:')) return 'node (internals)'
  for (const root of new Set([getAppDir(), ROOT])) if (file.startsWith(`${root}/`)) return path.relative(root, file)
  return file
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  const where = url ? `${groupOf(url, functionName)}:${lineNumber + 1}` : ''
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`
}

/**
 * `windows` restricts the summary to samples taken within these intervals of the monotonic
 * clock (microseconds, as process.hrtime and the profile's own timestamps), e.g. the measured
 * phase of a scenario, leaving start-up and warm-up out.
 */
export function summariseProfile(file: string, top = 15, windows: [number, number][] = []): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (windows.length > 0 && !windows.some(([from, to]) => at >= from && at <= to)) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })

  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  let idle = 0
  let total = 0
  const selfByFunction = new Map<string, number>()
  const selfByGroup = new Map<string, number>()
  const inclusiveProject = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    total += us
    if (node.callFrame.functionName === '(idle)') {
      idle += us
      continue
    }
    const key = label(node)
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us)
    const group = groupOf(node.callFrame.url, node.callFrame.functionName)
    selfByGroup.set(group, (selfByGroup.get(group) ?? 0) + us)
    // Inclusive time of project functions: credit every distinct project frame on the stack once.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!
      const url = frame.callFrame.url
      if (!url.includes(`${getAppDir()}/src/`) && !url.includes(`${getAppDir()}/dist/`)) continue
      const name = label(frame)
      if (seen.has(name)) continue
      seen.add(name)
      inclusiveProject.set(name, (inclusiveProject.get(name) ?? 0) + us)
    }
  }
  const busy = total - idle
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms`
  const table = (title: string, entries: Map<string, number>) =>
    [
      title,
      ...[...entries]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, us]) => `  ${pct(us)} ${ms(us)}  ${name}`),
    ].join('\n')
  return [
    `profile ${path.basename(file)}${windows.length ? ' (measured phase only)' : ''}: ${(total / 1e6).toFixed(1)} s sampled, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} %)`,
    table('self time by package / file:', selfByGroup),
    table('self time by function:', selfByFunction),
    table('inclusive time of project functions (synchronous stacks only: awaits cut them):', inclusiveProject),
  ].join('\n')
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]\n')
    process.exit(2)
  }
  process.stdout.write(`${summariseProfile(file, top ? Number(top) : 15)}\n`)
}
