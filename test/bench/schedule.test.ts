import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SCENARIOS } from '../../bench/scenarios.ts'
import { baselineRatios, catalogueOrder, median, roundSchedule, scaleRatios, type Step } from '../../bench/schedule.ts'

const pick = (...keys: string[]) => SCENARIOS.filter((s) => keys.includes(s.key))
const keysOf = (keys: string[]) => roundSchedule(pick(...keys)).map((s) => s.key)

describe('the benchmark schedule', () => {
  test('encloses each scenario with runs of its baseline, shared between neighbours', () => {
    assert.deepEqual(keysOf(['baseline-select', 'get-by-name', 'get-latest', 'baseline-update', 'update-draft', 'baseline-constant']), [
      'baseline-constant',
      'baseline-select',
      'get-by-name',
      'baseline-select',
      'get-latest',
      'baseline-select',
      'baseline-update',
      'update-draft',
      'baseline-update',
    ])
  })

  test('runs a scenario whose baseline is not selected, and a baseline with nothing to compare, once each', () => {
    assert.deepEqual(keysOf(['get-by-name', 'baseline-update']), ['get-by-name', 'baseline-update'])
  })

  test('of the whole list runs every scenario once and the SELECT baseline around each of its nine', () => {
    const steps = roundSchedule(SCENARIOS).map((s) => s.key)
    for (const s of SCENARIOS.filter((x) => x.key !== 'baseline-select' && x.key !== 'baseline-update')) {
      assert.equal(steps.filter((k) => k === s.key).length, 1, s.key)
    }
    assert.equal(steps.filter((k) => k === 'baseline-select').length, 10)
    assert.equal(steps.filter((k) => k === 'baseline-update').length, 2)
  })
})

describe('paired ratios', () => {
  const step = (round: number, index: number, scenario: string, rps: number): Step => ({ round, index, scenario, rps })

  test('divide by the mean of the baseline runs right around the scenario, per round', () => {
    const steps = [
      step(0, 0, 'B', 100),
      step(0, 1, 'S', 45),
      step(0, 2, 'B', 80),
      step(0, 3, 'T', 10),
      step(0, 4, 'B', 60),
      step(1, 0, 'B', 50),
      step(1, 1, 'S', 50),
      step(1, 2, 'B', 50),
    ]
    assert.deepEqual(baselineRatios(steps, 'S', 'B'), [0.5, 1])
    assert.deepEqual(baselineRatios(steps, 'T', 'B'), [10 / 70])
  })

  test('give nothing for a round where a neighbour is missing or is another scenario', () => {
    assert.deepEqual(baselineRatios([step(0, 0, 'B', 100), step(0, 1, 'S', 90), step(0, 2, 'X', 80)], 'S', 'B'), [])
  })

  test('compare the same step of the same round across catalogues', () => {
    const small = [step(0, 1, 'S', 100), step(1, 1, 'S', 50)]
    const large = [step(0, 1, 'S', 80), step(1, 1, 'S', 50), step(2, 1, 'S', 10)]
    assert.deepEqual(scaleRatios(small, large, 'S'), [0.8, 1])
  })

  test('median of odd, even and no values', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 2, 3]), 2.5)
    assert.equal(median([]), undefined)
  })

  test('catalogue order alternates from step to step and from round to round', () => {
    assert.deepEqual(catalogueOrder(['small', 'large'], 0, 0), ['small', 'large'])
    assert.deepEqual(catalogueOrder(['small', 'large'], 0, 1), ['large', 'small'])
    assert.deepEqual(catalogueOrder(['small', 'large'], 1, 1), ['small', 'large'])
  })
})
