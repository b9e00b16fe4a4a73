import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import cookie from '@fastify/cookie'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Redis } from 'ioredis'
import { createJwtVerifier } from './auth/jwt.ts'
import { defaultLimits, type LimitsConfig, type SecurityConfig } from './config.ts'
import { MemoryWindowCounter, RedisWindowCounter, type WindowCounter } from './http/counters.ts'
import { rateLimit } from './http/rate-limit.ts'
import { exceedsDepth } from './http/json-depth.ts'
import { staticSecurityHeaders } from './http/security-headers.ts'
import { authentication } from './auth/auth.hook.ts'
import { connectorRoutes } from './connectors/connectors.routes.ts'
import type { Db } from './db/database.ts'
import { getOrCreateSetting } from './db/settings.ts'
import { registerErrorHandling, sendError } from './http/error-handler.ts'
import { idempotency } from './idempotency/idempotency.plugin.ts'
import { ApiError } from './http/errors.ts'
import { CursorCodec } from './http/pagination.ts'
import { CompressedForms } from './http/compression.ts'
import { weighRepresentation, type Representation } from './http/representation.ts'
import { SERIALIZER_OPTIONS } from './http/serialization.ts'
import { validatorCompiler } from './http/validation.ts'
import type { Registry } from './registry.ts'
import { RevisionCache } from './db/revision-cache.ts'
import type { Message } from './http/schemas.ts'
import { systemRoutes } from './system/system.routes.ts'
import { versionRoutes } from './versions/versions.routes.ts'
import { operationRoutes } from './content/actions.routes.ts'
import { definitionRoutes } from './content/definitions.routes.ts'
import { subscriptionRoutes } from './subscriptions/subscriptions.routes.ts'

export interface AppOptions {
  db: Db
  logger?: FastifyServerOptions['logger']
  /** Shorthand for `security.limits.bodyLimitBytes`. */
  bodyLimitBytes?: number
  /** Authentication and abuse limits; defaults: API keys only, uncached, generous limits. */
  security?: Partial<Omit<SecurityConfig, 'limits'>> & { limits?: Partial<LimitsConfig> }
  /** Replaces the global fetch for JWKS requests (tests). */
  jwksFetch?: typeof fetch
  /** Memory for cached response bodies (connectors, versions, version pages), in bytes (default 32 MiB); 0 turns the cache off. */
  representationCacheBytes?: number
}

const SUMMARY_CACHE_ENTRIES = 10_000
const DEFAULT_REPRESENTATION_CACHE_BYTES = 32 * 2 ** 20
/**
 * Bytes a response may queue before writing to it reports backpressure (Node's default: 16 KB).
 * A streamed connector page (connector-json.ts) is pieces of cached buffers, queued by reference:
 * below this mark they all go out in one writev, above it the stream pauses after each piece. A
 * page of ten connectors with 100 versions each is ~270 KB.
 */
const RESPONSE_HIGH_WATER_MARK = 2 ** 20

async function cursorSecret(db: Db): Promise<Buffer> {
  const { value } = await getOrCreateSetting(db, 'cursor_secret', () => randomBytes(32).toString('base64url'))
  return Buffer.from(value, 'base64url')
}

function rawErrorResponse(error: ApiError): string {
  const body = JSON.stringify(error.toBody())
  const reason = error.status === 431 ? 'Request Header Fields Too Large' : error.status === 408 ? 'Request Timeout' : 'Bad Request'
  return (
    `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

const DOCS_PREFIX = '/docs'

/** The Redis client, loaded only when REDIS_URL is set: otherwise its ~1 MB of heap is spent for nothing. */
function loadRedis(): typeof Redis {
  return (createRequire(import.meta.url)('ioredis') as { Redis: typeof Redis }).Redis
}

/** A Redis outage must not lock everybody out of authentication: the counter then counts nothing. */
function availableOrNothing(counter: WindowCounter): WindowCounter {
  const nothing = { count: 0, resetInMs: 0 }
  return {
    hit: (key) => counter.hit(key).catch(() => nothing),
    count: (key) => counter.count(key).catch(() => nothing),
  }
}

/** Builds the whole application on an open, migrated database. The caller owns the database. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const limits: LimitsConfig = {
    ...defaultLimits(),
    // Embedded use and tests get no request budgets unless they ask; the server passes its config.
    rateLimitMax: 1_000_000_000,
    authFailureMax: 1_000_000_000,
    ...options.security?.limits,
    ...(options.bodyLimitBytes !== undefined ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
  }
  const security = options.security ?? {}
  const bodyLimit = limits.bodyLimitBytes
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Version names are up to 128 characters, i.e. up to 1,536 once percent-encoded.
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    serializerOpts: SERIALIZER_OPTIONS,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: { maxHeaderSize: limits.maxHeaderBytes, headersTimeout: limits.headersTimeoutMs, highWaterMark: RESPONSE_HIGH_WATER_MARK },
    frameworkErrors: (error, _request, reply) => {
      // Malformed URLs (bad percent-encoding) never reach a route.
      void sendError(reply, new ApiError('validation_failed', { message: `The request URL is invalid: ${error.message}` }))
    },
    // Errors Node's HTTP parser raises before Fastify sees a request: answer in the envelope.
    clientErrorHandler: (error: Error & { code?: string }, socket) => {
      if (!socket.writable) return socket.destroy()
      const apiError =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? new ApiError('request_header_too_large')
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? new ApiError('request_timeout')
            : new ApiError('validation_failed', { message: 'The HTTP request is malformed.' })
      socket.end(rawErrorResponse(apiError))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  registerErrorHandling(app)

  // An empty body with a JSON content type counts as no body (clients often send the header
  // on bodiless POSTs such as publish); routes that need a body then fail validation. Deeply
  // nested documents are refused before any schema walks them.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (typeof body !== 'string' || body.trim() === '') return done(null, undefined)
    parseJson(request, body, (error, value) => {
      if (error) return done(error)
      if (exceedsDepth(value, limits.maxJsonDepth)) {
        return done(new ApiError('validation_failed', { message: `JSON bodies may nest at most ${limits.maxJsonDepth} levels.` }))
      }
      return done(null, value)
    })
  })

  const redis = security.redisUrl
    ? new (loadRedis())(security.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 })
    : undefined
  if (redis) {
    redis.on('error', (err) => app.log.warn({ err }, 'redis error'))
    app.addHook('onClose', async () => {
      redis.disconnect()
    })
  }

  await app.register(staticSecurityHeaders, {
    docsPrefix: DOCS_PREFIX,
    // The docs UI loads its own scripts and styles only.
    docs: {
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
          styleSrc: ["'self'", "'unsafe-inline'"],
          scriptSrc: ["'self'"],
          // Plain-http deployments (localhost) must still load the docs UI's assets.
          upgradeInsecureRequests: null,
        },
      },
      crossOriginResourcePolicy: { policy: 'same-site' },
    },
  })
  // Session cookies carry JWTs: without a JWT configuration no cookie is ever read.
  if (security.jwt) await app.register(cookie)

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
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX })

  const representationCacheBytes = options.representationCacheBytes ?? DEFAULT_REPRESENTATION_CACHE_BYTES
  const registry: Registry = {
    db: options.db,
    cursors: new CursorCodec(await cursorSecret(options.db)),
    summaries: new RevisionCache<Message[]>(SUMMARY_CACHE_ENTRIES),
    representations: new RevisionCache<Representation>(representationCacheBytes, weighRepresentation),
    // JSON compresses ~8× (a connector of 100 versions: 27 KB to 3 KB): a quarter is ample.
    compressed: new CompressedForms(Math.floor(representationCacheBytes / 4)),
  }
  const failures = redis
    ? new RedisWindowCounter(redis, limits.authFailureWindowMs, 'cr:authfail:')
    : new MemoryWindowCounter(limits.authFailureWindowMs)
  await app.register(authentication, {
    db: options.db,
    apiKeyCacheTtlMs: security.apiKeyCacheTtlMs ?? 0,
    jwt: security.jwt ? createJwtVerifier(security.jwt, options.jwksFetch) : undefined,
    sessionCookie: security.sessionCookie ?? 'session',
    allowedOrigins: security.allowedOrigins ?? [],
    failures: redis ? availableOrNothing(failures) : failures,
    maxFailures: limits.authFailureMax,
  })
  await app.register(rateLimit, {
    max: limits.rateLimitMax,
    windowMs: limits.rateLimitWindowMs,
    // The hook itself lets requests through when the counter fails (a Redis outage).
    counter: redis
      ? new RedisWindowCounter(redis, limits.rateLimitWindowMs, 'cr:ratelimit:')
      : new MemoryWindowCounter(limits.rateLimitWindowMs),
  })
  await app.register(idempotency, { registry })
  await app.register(systemRoutes, { registry })
  await app.register(connectorRoutes, { registry })
  await app.register(versionRoutes, { registry })
  await app.register(operationRoutes, { registry })
  await app.register(definitionRoutes, { registry })
  await app.register(subscriptionRoutes, { registry })
  return app
}
