/**
 * Values derived from a stored row, by the row's id and revision. The revision moves in the same
 * transaction as every change the value is derived from, so an entry for the revision just read
 * from the database is exactly what would be derived now, on every replica, without any
 * invalidation: a stale entry is simply never asked for again and ages out.
 *
 * Bounded by `capacity` in units of `weigh` (entries by default; it is given the key too, which
 * may be long); the least recently stored entries are evicted first, and a hit stays a single
 * map lookup.
 */
export class RevisionCache<T> {
  readonly #entries = new Map<string, { revision: number; value: T; weight: number }>()
  readonly #capacity: number
  readonly #weigh: (value: T, id: string) => number
  #weight = 0

  constructor(capacity: number, weigh: (value: T, id: string) => number = () => 1) {
    this.#capacity = capacity
    this.#weigh = weigh
  }

  get(id: string, revision: number): T | undefined {
    const entry = this.#entries.get(id)
    return entry && entry.revision === revision ? entry.value : undefined
  }

  set(id: string, revision: number, value: T): void {
    const current = this.#entries.get(id)
    // A slow reader must not replace the value of a newer revision with an older one.
    if (current && current.revision > revision) return
    const weight = this.#weigh(value, id)
    if (weight > this.#capacity) return
    if (current) this.#remove(id, current.weight)
    this.#entries.set(id, { revision, value, weight })
    this.#weight += weight
    while (this.#weight > this.#capacity) {
      const [oldest, entry] = this.#entries.entries().next().value!
      this.#remove(oldest, entry.weight)
    }
  }

  get size(): number {
    return this.#entries.size
  }

  get weight(): number {
    return this.#weight
  }

  #remove(id: string, weight: number): void {
    this.#entries.delete(id)
    this.#weight -= weight
  }
}
