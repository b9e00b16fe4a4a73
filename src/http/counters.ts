import type { Redis } from 'ioredis'

/**
 * Fixed-window counters for abuse limits, in memory (one replica) or in Redis (shared by all
 * replicas when REDIS_URL is set). `hit` counts one event; `count` reads without counting.
 */
export interface WindowCounter {
  hit(key: string): Promise<number>
  count(key: string): Promise<{ count: number; resetInMs: number }>
  /** `count` without a promise, for counters that can answer at once (in memory). */
  peek?(key: string): { count: number; resetInMs: number }
}

export class MemoryWindowCounter implements WindowCounter {
  readonly #windowMs: number
  readonly #entries = new Map<string, { count: number; resetAt: number }>()

  constructor(windowMs: number) {
    this.#windowMs = windowMs
  }

  #entry(key: string, now: number) {
    let entry = this.#entries.get(key)
    if (!entry || entry.resetAt <= now) {
      if (this.#entries.size >= 100_000) this.#sweep(now)
      entry = { count: 0, resetAt: now + this.#windowMs }
      this.#entries.set(key, entry)
    }
    return entry
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.resetAt <= now) this.#entries.delete(key)
    // Still full of live entries (an attack from many addresses): start over rather than grow.
    if (this.#entries.size >= 100_000) this.#entries.clear()
  }

  async hit(key: string): Promise<number> {
    return ++this.#entry(key, Date.now()).count
  }

  async count(key: string): Promise<{ count: number; resetInMs: number }> {
    return this.peek(key)
  }

  peek(key: string): { count: number; resetInMs: number } {
    const now = Date.now()
    const entry = this.#entries.get(key)
    if (!entry || entry.resetAt <= now) return { count: 0, resetInMs: 0 }
    return { count: entry.count, resetInMs: entry.resetAt - now }
  }
}

export class RedisWindowCounter implements WindowCounter {
  readonly #redis: Redis
  readonly #windowMs: number
  readonly #prefix: string

  constructor(redis: Redis, windowMs: number, prefix: string) {
    this.#redis = redis
    this.#windowMs = windowMs
    this.#prefix = prefix
  }

  async hit(key: string): Promise<number> {
    const k = this.#prefix + key
    const [[, count]] = (await this.#redis.multi().incr(k).pexpire(k, this.#windowMs, 'NX').exec()) as [[unknown, number]]
    return count
  }

  async count(key: string): Promise<{ count: number; resetInMs: number }> {
    const k = this.#prefix + key
    const [[, raw], [, ttl]] = (await this.#redis.multi().get(k).pttl(k).exec()) as [[unknown, string | null], [unknown, number]]
    return { count: raw === null ? 0 : Number(raw), resetInMs: Math.max(ttl, 0) }
  }
}
