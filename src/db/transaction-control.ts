import { CompiledQuery } from 'kysely'

// Transaction control as ready-compiled statements: no query building per transaction.
export const COMMIT = CompiledQuery.raw('commit')
export const ROLLBACK = CompiledQuery.raw('rollback')

/** Write transactions retried after a transient failure run at most this often. */
export const MAX_WRITE_ATTEMPTS = 6

/** Waits before the next attempt after a transient failure: jittered, doubling per attempt. */
export function pauseBeforeRetry(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt))
}
