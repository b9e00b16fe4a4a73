import { BASELINE_SCENARIO, type Scenario } from './scenarios.ts'

/**
 * The order of one round's measurements, and the ratios taken from neighbouring measurements.
 *
 * On a shared machine the throughput of the same server can halve for seconds or minutes (see
 * docs/performance.md, "Measurement noise"). A ratio of two figures measured a minute apart then
 * measures the machine as much as the server. So every ratio the targets use is taken between
 * measurements seconds apart, and per round, and the median of the rounds' ratios is reported:
 * - a scenario compared with a baseline runs between two runs of that baseline (B S1 B S2 B …),
 *   and its round's ratio is its throughput over the mean of the two around it;
 * - every step of the schedule is run on each catalogue back to back (small, large, or large,
 *   small, alternating), so a round's large/small ratio compares neighbours too.
 */

/** The baseline a scenario's ratio is taken against, when that baseline is being measured. */
export function pairedBaseline(scenario: Scenario, selected: readonly Scenario[]): Scenario | undefined {
  if (!scenario.baseline) return undefined
  const key = BASELINE_SCENARIO[scenario.baseline]
  return selected.find((s) => s.key === key)
}

/**
 * One round's steps: first the scenarios compared with no measured baseline, in their order; then,
 * per baseline, the scenarios compared with it, each enclosed by runs of it (neighbours share
 * the run between them: B S1 B S2 B). A baseline nothing is compared with runs once, in order.
 */
export function roundSchedule(selected: readonly Scenario[]): Scenario[] {
  const baselines = new Set(selected.map((s) => pairedBaseline(s, selected)).filter((b) => b !== undefined))
  const steps = selected.filter((s) => !baselines.has(s) && !pairedBaseline(s, selected))
  for (const baseline of baselines) {
    steps.push(baseline)
    for (const scenario of selected) if (pairedBaseline(scenario, selected) === baseline) steps.push(scenario, baseline)
  }
  return steps
}

/** A measured step: its place in the schedule (over all rounds) and its throughput. */
export interface Step {
  round: number
  /** Position in the round's schedule. */
  index: number
  scenario: string
  rps: number
}

/**
 * Per round, the scenario's throughput over the mean of the baseline runs right before and right
 * after it (same round, same catalogue). Rounds missing either neighbour give no ratio.
 */
export function baselineRatios(steps: readonly Step[], scenario: string, baseline: string): number[] {
  const ratios: number[] = []
  for (const step of steps) {
    if (step.scenario !== scenario) continue
    const before = steps.find((s) => s.round === step.round && s.index === step.index - 1 && s.scenario === baseline)
    const after = steps.find((s) => s.round === step.round && s.index === step.index + 1 && s.scenario === baseline)
    if (before && after && before.rps + after.rps > 0) ratios.push(step.rps / ((before.rps + after.rps) / 2))
  }
  return ratios
}

/** Per round, the large catalogue's throughput over the small one's for the same step. */
export function scaleRatios(small: readonly Step[], large: readonly Step[], scenario: string): number[] {
  const ratios: number[] = []
  for (const l of large) {
    if (l.scenario !== scenario) continue
    const s = small.find((x) => x.round === l.round && x.index === l.index && x.scenario === scenario)
    if (s && s.rps > 0) ratios.push(l.rps / s.rps)
  }
  return ratios
}

/** The median (the mean of the middle two of an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Which catalogue goes first at a step: alternates, so neither is always measured first. */
export function catalogueOrder<T>(catalogues: readonly T[], round: number, index: number): T[] {
  return (round + index) % 2 === 0 ? [...catalogues] : [...catalogues].reverse()
}
