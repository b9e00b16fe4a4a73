import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import Type from 'typebox'
import { ApiError } from '../http/errors.ts'
import { errorResponses } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'

const Status = Type.Object({ status: Type.String() })

/** Liveness, readiness and the OpenAPI document: no credentials needed. */
export const systemRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  app.route({
    method: 'GET',
    url: '/healthz',
    config: { public: true },
    schema: { operationId: 'Healthz', summary: 'The process is up', tags: ['system'], response: { 200: Status } },
    handler: async () => ({ status: 'ok' }),
  })

  app.route({
    method: 'GET',
    url: '/readyz',
    config: { public: true },
    schema: {
      operationId: 'Readyz',
      summary: 'The database is reachable',
      tags: ['system'],
      response: { 200: Status, ...errorResponses },
    },
    handler: async (request) => {
      try {
        await sql`select 1`.execute(registry.db.kysely)
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed')
        throw new ApiError('service_unavailable', { message: 'The database is not reachable.' })
      }
      return { status: 'ready' }
    },
  })

  app.route({
    method: 'GET',
    url: '/openapi.json',
    config: { public: true },
    schema: { hide: true },
    handler: async () => app.swagger(),
  })
}
