import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../http/errors.ts'
import type { WindowCounter } from '../http/counters.ts'
import { ApiKeyAuthenticator } from './api-keys.service.ts'
import { looksLikeJwt, type JwtVerifier } from './jwt.ts'
import type { Principal } from './principal.ts'
import type { Db } from '../db/database.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every route not marked `config.public`. */
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Routes that need no credentials (health, docs). */
    public?: boolean
  }
}

export interface AuthenticationOptions {
  db: Db
  apiKeyCacheTtlMs: number
  jwt: JwtVerifier | undefined
  sessionCookie: string
  allowedOrigins: readonly string[]
  /** Failed authentications per client address; over `maxFailures` in a window → 429. */
  failures: WindowCounter
  maxFailures: number
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const WRITES_INFO = new Set(['trace', 'debug', 'info'])

function bearerToken(header: string): string | undefined {
  return /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1]
}

/**
 * The one place credentials become a principal. Every route requires one unless its config
 * says `public: true`. Order: an Authorization header (API key, or a JWT when the token looks
 * like one) wins; otherwise the session cookie carrying the same JWT. Any failure is a 401
 * with one identical body, whatever the reason, and counts against the client address.
 */
export const authentication = fp(async (app: FastifyInstance, options: AuthenticationOptions) => {
  const apiKeys = new ApiKeyAuthenticator(options.db, options.apiKeyCacheTtlMs)
  const allowedOrigins = new Set(options.allowedOrigins)

  async function principalOf(request: FastifyRequest): Promise<Principal | undefined> {
    const header = request.headers.authorization
    if (header !== undefined) {
      const token = bearerToken(header)
      if (token === undefined) return undefined
      if (looksLikeJwt(token)) return options.jwt ? options.jwt(token, 'jwt') : undefined
      return apiKeys.authenticate(token)
    }
    const cookie = request.cookies?.[options.sessionCookie]
    if (cookie === undefined || cookie === '' || !options.jwt) return undefined
    return options.jwt(cookie, 'cookie')
  }

  /**
   * The principal when it is known without waiting: the in-memory failure count is under the
   * limit and the API key was verified within the cache's TTL. Most requests take this path,
   * which allocates no promise; everything else goes through authenticate().
   */
  function knownPrincipal(request: FastifyRequest): Principal | undefined {
    const header = request.headers.authorization
    if (header === undefined || !options.failures.peek) return undefined
    if (options.failures.peek(request.ip).count >= options.maxFailures) return undefined
    const token = bearerToken(header)
    return token === undefined || looksLikeJwt(token) ? undefined : apiKeys.cached(token)
  }

  function admit(request: FastifyRequest, reply: FastifyReply, principal: Principal): void {
    // A foreign page can make the browser send the cookie; only listed origins may write with it.
    if (principal.method === 'cookie' && !SAFE_METHODS.has(request.method)) {
      const origin = request.headers.origin
      if (origin === undefined || !allowedOrigins.has(origin)) {
        throw new ApiError('forbidden', { message: 'Cookie-authenticated writes need an Origin listed in ALLOWED_ORIGINS.' })
      }
    }
    request.principal = principal
    // The "request completed" line (info) names the principal: also on reply.log, which writes
    // it. A child logger per request is measurable, so only when that line is written at all;
    // error lines name the principal themselves (error-handler.ts).
    if (WRITES_INFO.has(request.log.level)) request.log = reply.log = request.log.child({ principal: principal.subject })
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { count, resetInMs } = await options.failures.count(request.ip)
    if (count >= options.maxFailures) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(resetInMs / 1000))))
      throw new ApiError('rate_limited', { message: 'Too many failed authentication attempts; retry later.' })
    }
    const principal = await principalOf(request)
    if (!principal) {
      await options.failures.hit(request.ip)
      reply.header('www-authenticate', 'Bearer')
      throw new ApiError('unauthenticated')
    }
    admit(request, reply, principal)
  }

  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) return done()
    // A getter that builds a new object on every access: read once.
    const route = request.routeOptions
    // The docs UI serves static assets; its routes are registered by @fastify/swagger-ui.
    if (route.config.public === true || route.url?.startsWith('/docs')) return done()
    const known = knownPrincipal(request)
    if (known === undefined) {
      authenticate(request, reply).then(() => done(), done)
      return
    }
    try {
      admit(request, reply, known)
    } catch (error) {
      return done(error as Error)
    }
    done()
  })
})
