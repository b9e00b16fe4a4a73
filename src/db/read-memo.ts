import type { Db } from './database.ts'

interface Entry {
  value: unknown
  generation: number
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
 * Kysely's machinery. PostgreSQL has no such signal across replicas, so it reads every time.
 */
export class ReadMemo {
  readonly #entries = new Map<string, Entry>()
  readonly #capacity: number
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

  /** Remembers a value read at `generation`; useless, so dropped, if something changed since. */
  set(key: string, value: unknown, generation: number): void {
    if (generation !== this.#generation) return
    this.#entries.delete(key)
    this.#entries.set(key, { value, generation })
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!)
  }

  get size(): number {
    return this.#entries.size
  }
}

/**
 * `read()`'s value, or the value it returned since the database last changed (SQLite; on
 * PostgreSQL it always reads). `undefined` is never remembered.
 */
export async function remembered<T>(db: Db, key: string, read: () => Promise<T>): Promise<T> {
  const memo = db.memo
  if (!memo) return read()
  const generation = memo.generation()
  const known = memo.get(key, generation)
  if (known !== undefined) return known as T
  const value = await read()
  if (value !== undefined) memo.set(key, value, generation)
  return value
}
