import { randomBytes } from 'node:crypto'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { authentication } from './auth/auth.hook.ts'
import { connectorRoutes } from './connectors/connectors.routes.ts'
import type { Db } from './db/database.ts'
import { getOrCreateSetting } from './db/settings.ts'
import { registerErrorHandling, sendError } from './http/error-handler.ts'
import { idempotency } from './idempotency/idempotency.plugin.ts'
import { ApiError } from './http/errors.ts'
import { CursorCodec } from './http/pagination.ts'
import { validatorCompiler } from './http/validation.ts'
import type { Registry } from './registry.ts'
import { systemRoutes } from './system/system.routes.ts'
import { versionRoutes } from './versions/versions.routes.ts'

export interface AppOptions {
  db: Db
  logger?: FastifyServerOptions['logger']
  bodyLimitBytes?: number
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024

async function cursorSecret(db: Db): Promise<Buffer> {
  const { value } = await getOrCreateSetting(db, 'cursor_secret', () => randomBytes(32).toString('base64url'))
  return Buffer.from(value, 'base64url')
}

/** Builds the whole application on an open, migrated database. The caller owns the database. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Version names are up to 128 characters, i.e. up to 1,536 once percent-encoded.
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    frameworkErrors: (error, _request, reply) => {
      // Malformed URLs (bad percent-encoding) never reach a route.
      void sendError(reply, new ApiError('validation_failed', { message: `The request URL is invalid: ${error.message}` }))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  registerErrorHandling(app)

  // An empty body with a JSON content type counts as no body (clients often send the header
  // on bodiless POSTs such as publish); routes that need a body then fail validation.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined)
    return parseJson(request, body as string, done)
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'connector-registry',
        version: '0.1.0',
        description:
          'Self-hostable connector registry, wire-compatible with the Versori Connect API v1. ' +
          'Errors use the envelope {code, message, fields?, details?}; codes are listed in the README.',
      },
      components: {
        securitySchemes: {
          bearerToken: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer crk_…' },
        },
      },
      security: [{ bearerToken: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const registry: Registry = { db: options.db, cursors: new CursorCodec(await cursorSecret(options.db)) }
  await app.register(authentication, { registry })
  await app.register(idempotency, { registry })
  await app.register(systemRoutes, { registry })
  await app.register(connectorRoutes, { registry })
  await app.register(versionRoutes, { registry })
  return app
}
