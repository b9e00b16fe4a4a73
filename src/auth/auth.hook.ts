import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../http/errors.ts'
import type { Registry } from '../registry.ts'
import { authenticateApiKey } from './api-keys.service.ts'
import type { Principal } from './principal.ts'

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

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/**
 * The one place credentials become a principal. Every route requires one unless its config
 * says `public: true`; a missing, malformed, unknown or revoked credential is a 401 with one
 * identical body, whatever the reason.
 */
export const authentication = fp(async (app: FastifyInstance, options: { registry: Registry }) => {
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true || request.is404) return
    // The docs UI serves static assets; its routes are registered by @fastify/swagger-ui.
    if (request.routeOptions.url?.startsWith('/docs')) return
    const token = bearerToken(request)
    const principal = token === undefined ? undefined : await authenticateApiKey(options.registry.db, token)
    if (!principal) {
      reply.header('www-authenticate', 'Bearer')
      throw new ApiError('unauthenticated')
    }
    request.principal = principal
    request.log = request.log.child({ principal: principal.subject })
  })
})
