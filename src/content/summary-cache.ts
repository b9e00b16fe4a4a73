import type { Message } from '../http/schemas.ts'

const DEFAULT_CAPACITY = 10_000

/**
 * Validation summaries of versions, by version id and revision. The revision moves in the same
 * transaction as every change to a version or its content, so an entry for the revision just
 * read is the summary of exactly that content, on every replica, without any invalidation.
 * The oldest entries are evicted beyond `capacity` (a hit stays a single map lookup).
 */
export class SummaryCache {
  readonly #entries = new Map<string, { revision: number; messages: Message[] }>()
  readonly #capacity: number

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity
  }

  get(versionId: string, revision: number): Message[] | undefined {
    const entry = this.#entries.get(versionId)
    return entry && entry.revision === revision ? entry.messages : undefined
  }

  set(versionId: string, revision: number, messages: Message[]): void {
    const current = this.#entries.get(versionId)
    // A slow reader must not replace the summary of a newer revision with an older one.
    if (current && current.revision > revision) return
    this.#entries.delete(versionId)
    this.#entries.set(versionId, { revision, messages })
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!)
  }
}
