import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import type { Principal } from '../auth/principal.ts'
import type { CounterWindow, WindowCounter } from './counters.ts'
import { ApiError } from './errors.ts'

export interface RateLimitOptions {
  /** Requests per principal and window. */
  max: number
  /** The counter's window, for the 429 message. */
  windowMs: number
  counter: WindowCounter
}

/**
 * The request budget of each principal: `max` requests per fixed window, counted in memory or,
 * with REDIS_URL, in Redis for all replicas. Every authenticated response carries
 * `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds); a request over
 * the budget gets `429 rate_limited` with `Retry-After` and reaches no handler. Requests without a
 * principal (public routes, the docs UI, 404s) are not counted here; failed authentications have
 * their own limit per client address (auth.hook.ts).
 *
 * Our own hook rather than @fastify/rate-limit: that plugin awaits four promises per request even
 * with an in-memory store; without it a cached version read went from a median 0.56 to 0.63 of
 * the benchmark's bare SELECT (interleaved A/B, docs/performance.md round 7). An in-memory count
 * is answered synchronously here.
 */
export const rateLimit = fp(async (app: FastifyInstance, { max, windowMs, counter }: RateLimitOptions) => {
  const limit = String(max)
  const message = `Rate limit of ${max} requests per ${windowMs / 1000} s exceeded.`

  function apply(reply: FastifyReply, window: CounterWindow): ApiError | undefined {
    const resetSeconds = Math.ceil(window.resetInMs / 1000)
    reply.header('x-ratelimit-limit', limit)
    reply.header('x-ratelimit-remaining', String(Math.max(0, max - window.count)))
    reply.header('x-ratelimit-reset', String(resetSeconds))
    if (window.count <= max) return undefined
    reply.header('retry-after', String(Math.max(1, resetSeconds)))
    return new ApiError('rate_limited', { message })
  }

  // Registered after authentication, whose onRequest hook sets the principal.
  app.addHook('onRequest', (request, reply, done) => {
    // Undefined, not null, on routes registered before authentication (the docs UI).
    const principal = request.principal as Principal | null | undefined
    if (!principal) return done()
    const key = principal.subject
    if (counter.hitNow) return done(apply(reply, counter.hitNow(key)))
    // A counter outage (Redis down) must not lock everybody out: the request goes through.
    counter.hit(key).then(
      (window) => done(apply(reply, window)),
      () => done(),
    )
  })
})
