import type { Redis } from 'ioredis'

/** A key's events in its current window, and when that window ends. */
export interface CounterWindow {
  count: number
  resetInMs: number
}

/**
 * Fixed-window counters for abuse limits, in memory (one replica) or in Redis (shared by all
 * replicas when REDIS_URL is set). `hit` counts one event and returns the window after it;
 * `count` reads without counting.
 */
export interface WindowCounter {
  hit(key: string): Promise<CounterWindow>
  count(key: string): Promise<CounterWindow>
  /** `hit` without a promise, for counters that can answer at once (in memory). */
  hitNow?(key: string): CounterWindow
  /** `count` without a promise, for counters that can answer at once (in memory). */
  peek?(key: string): CounterWindow
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

  async hit(key: string): Promise<CounterWindow> {
    return this.hitNow(key)
  }

  hitNow(key: string): CounterWindow {
    const now = Date.now()
    const entry = this.#entry(key, now)
    return { count: ++entry.count, resetInMs: entry.resetAt - now }
  }

  async count(key: string): Promise<CounterWindow> {
    return this.peek(key)
  }

  peek(key: string): CounterWindow {
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

  async hit(key: string): Promise<CounterWindow> {
    const k = this.#prefix + key
    const replies = await this.#redis.multi().incr(k).pexpire(k, this.#windowMs, 'NX').pttl(k).exec()
    const [[, count], , [, ttl]] = replies as [[unknown, number], unknown, [unknown, number]]
    return { count, resetInMs: Math.max(ttl, 0) }
  }

  async count(key: string): Promise<CounterWindow> {
    const k = this.#prefix + key
    const [[, raw], [, ttl]] = (await this.#redis.multi().get(k).pttl(k).exec()) as [[unknown, string | null], [unknown, number]]
    return { count: raw === null ? 0 : Number(raw), resetInMs: Math.max(ttl, 0) }
  }
}
