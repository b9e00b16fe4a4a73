import type { Db } from './database.ts'

interface Entry {
  value: unknown
  generation: number
  weight: number
}

/**
 * Values read from an SQLite database, reused for as long as the database cannot have changed.
 *
 * A generation number moves whenever the database may have changed: on every statement of this
 * connection that may write or undo writes (the statement cache reports them, database.ts), and
 * whenever SQLite's `data_version` shows a commit by another connection (another server process
 * on the same file, the CLI). A value remembered at generation g is handed out only while the
 * generation is still g, so a hit is exactly what reading again would return: nothing is ever
 * stale and nothing needs invalidating. Any write anywhere forgets everything, which is cheap:
 * the next read of each value simply goes to the database again.
 *
 * Why: on the read paths a cached response costs one indexed read of the connector's revision,
 * and through Kysely that read was the largest single cost left in the profile of a version read;
 * `pragma data_version` costs 1.8 µs against 3.0 µs for the read itself (a tight loop) and skips
 * Kysely's machinery. Connector listings are remembered too (connectorsListing): a name-filtered
 * one sorts and counts every match, which on a large catalogue is most of its cost. PostgreSQL
 * has no such signal across replicas, so it reads every time.
 */
export class ReadMemo {
  readonly #entries = new Map<string, Entry>()
  readonly #capacity: number
  #weight = 0
  readonly #dataVersion: () => number
  #lastDataVersion: number
  #generation = 0

  constructor(capacity: number, dataVersion: () => number) {
    this.#capacity = capacity
    this.#dataVersion = dataVersion
    this.#lastDataVersion = dataVersion()
  }

  /** This connection is about to run a statement that may write, or undo writes. */
  changed(): void {
    this.#generation++
  }

  /** The current generation, after asking SQLite whether another connection has committed. */
  generation(): number {
    const dataVersion = this.#dataVersion()
    if (dataVersion !== this.#lastDataVersion) {
      this.#lastDataVersion = dataVersion
      this.#generation++
    }
    return this.#generation
  }

  get(key: string, generation: number): unknown {
    const entry = this.#entries.get(key)
    return entry !== undefined && entry.generation === generation ? entry.value : undefined
  }

  /**
   * Remembers a value read at `generation`; useless, so dropped, if something changed since.
   * `weight` is its size in the units of the capacity (a revision weighs 1, a listing its rows),
   * so the memo's memory stays bounded whatever it holds; the oldest entries go first.
   */
  set(key: string, value: unknown, generation: number, weight = 1): void {
    if (generation !== this.#generation || weight > this.#capacity) return
    this.#forget(key)
    this.#entries.set(key, { value, generation, weight })
    this.#weight += weight
    while (this.#weight > this.#capacity && this.#entries.size > 0) this.#forget(this.#entries.keys().next().value!)
  }

  #forget(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#weight -= entry.weight
  }

  get size(): number {
    return this.#entries.size
  }

  /** The entries' total weight, never above the capacity. */
  get weight(): number {
    return this.#weight
  }
}

/**
 * `read()`'s value, or the value it returned since the database last changed (SQLite; on
 * PostgreSQL it always reads). `undefined` is never remembered. A remembered value is shared by
 * every later caller, so callers must not change it. `weigh` gives its weight (see set).
 */
export async function remembered<T>(db: Db, key: string, read: () => Promise<T>, weigh?: (value: T) => number): Promise<T> {
  const memo = db.memo
  if (!memo) return read()
  const generation = memo.generation()
  const known = memo.get(key, generation)
  if (known !== undefined) return known as T
  const value = await read()
  if (value !== undefined) memo.set(key, value, generation, weigh?.(value))
  return value
}
