import { CompiledQuery, type Compilable } from 'kysely'
import type { Db } from './database.ts'
import type { DialectName } from './dialect.ts'
import { nameStatement } from './pg-statements.ts'

const SLOT_PREFIX = '\u0000prepared-slot:'

type Slot = { key: string } | { constant: unknown }

interface Plan {
  sql: string
  slots: Slot[]
}

/**
 * A query built and compiled once per dialect, then run with new parameter values.
 *
 * Kysely rebuilds the operation tree and recompiles the SQL on every call, which the benchmark
 * profile showed as the largest single cost of a read request (a third of the CPU). A prepared
 * query builds its Kysely query once with placeholder values, remembers which compiled
 * parameter each placeholder became, and afterwards only swaps the values. It stays fully
 * Kysely-typed: `build` is ordinary query-builder code; only its shape must not depend on the
 * values (branch into separate prepared queries instead). On PostgreSQL the statement is also
 * prepared on the server, once per connection (pg-statements.ts).
 */
export function prepared<P extends Record<string, string | number | null>, Row>(
  build: (db: Db, params: P) => Compilable<Row>,
): (db: Db, params: P) => Promise<Row[]> {
  const plans = new Map<DialectName, Plan>()

  function plan(db: Db): Plan {
    const used = new Set<string>()
    const placeholders = new Proxy({} as P, {
      get(_target, key) {
        if (typeof key !== 'string') return undefined
        used.add(key)
        return `${SLOT_PREFIX}${key}`
      },
    })
    const compiled = build(db, placeholders).compile()
    const slots = compiled.parameters.map((value): Slot =>
      typeof value === 'string' && value.startsWith(SLOT_PREFIX) ? { key: value.slice(SLOT_PREFIX.length) } : { constant: value },
    )
    for (const key of used) {
      if (!slots.some((slot) => 'key' in slot && slot.key === key)) {
        throw new Error(`prepared query: parameter "${key}" was not compiled into a bound parameter`)
      }
    }
    if (db.dialect.name === 'postgres') nameStatement(compiled.sql)
    return { sql: compiled.sql, slots }
  }

  return async (db, params) => {
    let known = plans.get(db.dialect.name)
    if (!known) plans.set(db.dialect.name, (known = plan(db)))
    const values = known.slots.map((slot) => ('key' in slot ? params[slot.key] : slot.constant))
    const result = await db.kysely.executeQuery<Row>(CompiledQuery.raw(known.sql, values))
    return result.rows as Row[]
  }
}
