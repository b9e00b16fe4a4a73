import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { canActOn } from '../auth/principal.ts'
import { ApiError } from '../http/errors.ts'
import type { Registry } from '../registry.ts'
import { claim, complete, purgeExpired, release } from './idempotency.repository.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** POSTs that create or change state accept an Idempotency-Key. */
    idempotent?: boolean
  }
  interface FastifyRequest {
    idempotency?: { organisationId: string; key: string }
  }
}

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/** How long a running first request holds its key before a retry may take it over. */
export const IDEMPOTENCY_LEASE_MS = 60 * 1000

const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/

function fingerprintOf(request: FastifyRequest): string {
  const route = `${request.method} ${request.routeOptions.url ?? ''}`
  return createHash('sha256').update(JSON.stringify([route, request.params, request.body ?? null])).digest('base64url')
}

/**
 * Idempotency-Key on state-changing POSTs: the first response (status, body, ETag) is stored
 * per organisation and key for 24 h and replayed for repeats; the same key with another
 * request is 422; a repeat while the first still runs is 409. 5xx responses are not stored,
 * so a retry after a server failure runs again.
 */
export const idempotency = fp(async (app: FastifyInstance, options: { registry: Registry }) => {
  const { db } = options.registry
  let lastPurge = 0

  const claimKey = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers['idempotency-key']
    if (header === undefined) return
    if (typeof header !== 'string' || !KEY_FORMAT.test(header)) {
      throw new ApiError('invalid_idempotency_key', { fields: [{ field: 'Idempotency-Key', message: 'is invalid' }] })
    }
    const organisationId = (request.params as { organisation_id?: string }).organisation_id
    // Without access to the organisation nothing is stored; the service answers 403.
    if (!organisationId || !canActOn(request.principal, organisationId)) return

    const nowMs = Date.now()
    const times = {
      now: new Date(nowMs).toISOString(),
      leaseUntil: new Date(nowMs + IDEMPOTENCY_LEASE_MS).toISOString(),
      expiredBefore: new Date(nowMs - IDEMPOTENCY_TTL_MS).toISOString(),
    }
    if (nowMs - lastPurge > 60 * 60 * 1000) {
      lastPurge = nowMs
      await purgeExpired(db, times.expiredBefore)
    }
    const result = await claim(db, organisationId, header, fingerprintOf(request), times)
    switch (result.outcome) {
      case 'claimed':
        request.idempotency = { organisationId, key: header }
        return
      case 'mismatch':
        throw new ApiError('idempotency_key_reused')
      case 'in-progress':
        reply.header('retry-after', '1')
        throw new ApiError('idempotency_in_progress')
      case 'replay':
        if (result.response.etag) reply.header('etag', result.response.etag)
        return reply
          .code(result.response.statusCode)
          .header('idempotent-replayed', 'true')
          .type('application/json; charset=utf-8')
          .send(result.response.body)
    }
  }

  const storeResponse = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claimed = request.idempotency
    if (!claimed) return payload
    request.idempotency = undefined
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await release(db, claimed.organisationId, claimed.key)
    } else {
      const etag = reply.getHeader('etag')
      await complete(db, claimed.organisationId, claimed.key, {
        statusCode: reply.statusCode,
        body: payload,
        etag: typeof etag === 'string' ? etag : null,
      })
    }
    return payload
  }

  // Only the idempotent routes carry the hooks: every other request skips them entirely.
  app.addHook('onRoute', (route) => {
    if (route.config?.idempotent !== true) return
    route.preHandler = [...hookList(route.preHandler), claimKey]
    route.onSend = [...hookList(route.onSend), storeResponse]
  })
})

function hookList<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]
}
