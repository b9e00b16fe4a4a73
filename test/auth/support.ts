import assert from 'node:assert/strict'
import { randomUUID, webcrypto } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { buildApp, type AppOptions } from '../../src/app.ts'
import { issueApiKey, type ApiKeyOptions } from '../../src/auth/api-keys.service.ts'
import { loadConfig, type JwtConfig } from '../../src/config.ts'
import type { Db } from '../../src/db/database.ts'
import { insertOrganisation } from '../../src/organisations/organisations.repository.ts'
import type { TestResponse } from '../helpers/app.ts'
import { ContractChecker, referenceChecker } from '../helpers/contract.ts'
import { createTestDatabase } from '../helpers/database.ts'

/**
 * Fixtures for the authentication suites: a local JWKS server (the IdP) whose key set a test
 * can change or take down, jose-generated signing keys, token minting, and the real
 * application built with a `security` configuration (which test/helpers/app.ts does not pass).
 */
export const ISSUER = 'https://idp.test.example/'
export const AUDIENCE = 'connector-registry'

export type KeyAlg = 'RS256' | 'RS384' | 'ES256' | 'EdDSA'

export interface SigningKey {
  kid: string
  alg: KeyAlg
  privateKey: CryptoKey
  publicKey: CryptoKey
  /** The public key as published in the JWKS (with kid, alg, use). */
  publicJwk: JWK
}

export async function createSigningKey(alg: KeyAlg = 'RS256', kid = `kid-${randomUUID()}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { kid, alg, privateKey, publicKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } }
}

// ---------------------------------------------------------------------------------------------
// A local HTTP server: the IdP's JWKS endpoint, or an attacker's server that must never be hit.

export interface KeyServer {
  url: string
  /** Every request the server received (method and path), in order. */
  readonly requests: string[]
  /** Replaces the published key set. */
  setKeys(keys: SigningKey[]): void
  /** Answers every request with this status instead of the key set (undefined: serve keys). */
  failWith(status: number | undefined): void
  /** Stops listening and drops open connections: the IdP is down. */
  stop(): Promise<void>
}

export async function startKeyServer(keys: SigningKey[] = []): Promise<KeyServer> {
  let published = keys
  let failure: number | undefined
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'text/plain' }).end('unavailable')
      return
    }
    const body = JSON.stringify({ keys: published.map((k) => k.publicJwk) })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let stopped = false
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests,
    setKeys(next) {
      published = next
    },
    failWith(status) {
      failure = status
    },
    async stop() {
      if (stopped) return
      stopped = true
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

export interface TokenOptions {
  /** Merged over the default claims (iss, aud, sub, organisations, iat, exp); `undefined` removes one. */
  claims?: Record<string, unknown>
  /** Merged over the default header ({alg, kid, typ}); `undefined` removes one. */
  header?: Record<string, unknown>
}

const now = (): number => Math.floor(Date.now() / 1000)

function merge(base: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ...extra }
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k]
  return out
}

export function defaultClaims(organisations: unknown): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', organisations, iat: now(), exp: now() + 300 }
}

/** A token signed with `new SignJWT` (the usual way an IdP mints them). */
export async function mintToken(key: SigningKey, organisations: unknown, options: TokenOptions = {}): Promise<string> {
  const claims = merge(defaultClaims(organisations), options.claims)
  const header = merge({ alg: key.alg, kid: key.kid, typ: 'JWT' }, options.header)
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey)
}

export const b64 = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url')

const SUBTLE_PARAMS: Record<KeyAlg, AlgorithmIdentifier | EcdsaParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  RS384: { name: 'RSASSA-PKCS1-v1_5' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
}

/**
 * Signs an arbitrary header and payload with WebCrypto directly, bypassing jose's checks, so a
 * tampered token can still carry a valid signature (crit, b64, non-object payloads …).
 */
export async function signRaw(key: SigningKey, header: Record<string, unknown>, payload: unknown): Promise<string> {
  const input = `${b64(JSON.stringify(header))}.${b64(typeof payload === 'string' ? payload : JSON.stringify(payload))}`
  const signature = await webcrypto.subtle.sign(SUBTLE_PARAMS[key.alg], key.privateKey as webcrypto.CryptoKey, Buffer.from(input))
  return `${input}.${b64(new Uint8Array(signature))}`
}

/** An HMAC-signed token (HS256/384/512) with any secret: no verifier may accept it. */
export async function signHmac(alg: 'HS256' | 'HS384' | 'HS512', secret: Uint8Array, header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header, alg }).sign(secret)
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` })
export const sessionCookie = (token: string, name = 'session'): { cookie: string } => ({ cookie: `${name}=${token}` })

// ---------------------------------------------------------------------------------------------
// The application

export interface AuthOrg {
  id: string
  name: string
  /** A write-scope API key of this organisation. */
  key: string
  keyId: string
  auth: { authorization: string }
}

export interface AuthApp {
  app: FastifyInstance
  db: Db
  /** The JWT configuration in effect (undefined: JWTs disabled). */
  jwt: JwtConfig | undefined
  newOrg(name?: string): Promise<AuthOrg>
  /** Issues another API key for an organisation. */
  apiKey(organisationId: string, options?: ApiKeyOptions): Promise<{ id: string; key: string; auth: { authorization: string } }>
  /** Injects (JSON-serialising object payloads), fails on 5xx, checks bodies against the contracts. */
  request(options: InjectOptions): Promise<TestResponse>
  close(): Promise<void>
}

export interface AuthAppOptions {
  /** Share an existing database (several instances); otherwise a fresh one is created and dropped on close. */
  db?: Db
  /** JWKS URL (or server) enabling JWTs with the documented defaults; `jwt` overrides single settings. */
  jwks?: KeyServer | string
  jwt?: Partial<JwtConfig>
  security?: Omit<NonNullable<AppOptions['security']>, 'jwt'>
  logger?: AppOptions['logger']
  jwksFetch?: typeof fetch
}

const OPERATION_HEADER = 'x-test-operation'
let ownChecker: ContractChecker | undefined

/** JWT settings as loadConfig derives them from the three required variables (the documented defaults). */
export function jwtConfigFor(jwksUrl: string, overrides: Partial<JwtConfig> = {}): JwtConfig {
  const base = loadConfig({ JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }).jwt
  assert.ok(base, 'loadConfig enables JWTs when JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE are set')
  return { ...base, ...overrides }
}

export async function buildAuthApp(options: AuthAppOptions = {}): Promise<AuthApp> {
  const owned = options.db ? undefined : await createTestDatabase()
  const db = options.db ?? owned!.db
  const jwksUrl = typeof options.jwks === 'string' ? options.jwks : options.jwks?.url
  const jwt = jwksUrl ? jwtConfigFor(jwksUrl, options.jwt) : undefined
  const app = await buildApp({
    db,
    ...(options.logger ? { logger: options.logger } : {}),
    security: { ...options.security, ...(jwt ? { jwt } : {}) },
    ...(options.jwksFetch ? { jwksFetch: options.jwksFetch } : {}),
  })
  app.addHook('onSend', async (request, reply, payload) => {
    const operationId = (request.routeOptions.schema as { operationId?: string } | undefined)?.operationId
    if (operationId) reply.header(OPERATION_HEADER, operationId)
    return payload
  })
  await app.ready()
  ownChecker ??= new ContractChecker(app.swagger() as never, 'own.json')
  const own = ownChecker
  const reference = referenceChecker()

  const apiKey: AuthApp['apiKey'] = async (organisationId, keyOptions = {}) => {
    const issued = await issueApiKey(db, organisationId, { name: 'test', ...keyOptions })
    return { id: issued.id, key: issued.key, auth: bearer(issued.key) }
  }

  return {
    app,
    db,
    jwt,
    apiKey,
    async newOrg(name = 'org') {
      const organisation = await insertOrganisation(db, name)
      const issued = await apiKey(organisation.id)
      return { id: organisation.id, name, key: issued.key, keyId: issued.id, auth: issued.auth }
    },
    async request(injectOptions) {
      const opts: InjectOptions = { ...injectOptions }
      if (opts.payload !== undefined && typeof opts.payload === 'object' && !Buffer.isBuffer(opts.payload)) {
        opts.payload = JSON.stringify(opts.payload)
        opts.headers = { 'content-type': 'application/json', ...opts.headers }
      }
      const raw = await app.inject(opts)
      let body: unknown
      if (raw.body !== '') {
        try {
          body = JSON.parse(raw.body)
        } catch {
          body = raw.body
        }
      }
      const label = `${opts.method ?? 'GET'} ${String(opts.url)}`
      if (raw.statusCode >= 500) assert.fail(`server error ${raw.statusCode} for ${label}: ${raw.body}`)
      const operationId = raw.headers[OPERATION_HEADER]
      if (typeof operationId === 'string' && body !== undefined && typeof body === 'object') {
        assert.deepEqual(own.check(operationId, raw.statusCode, body), [], `${label}: violates the project's OpenAPI document`)
        // The reference declares no error responses for DeleteConnector; our own document does.
        const referenceDeclares = !(operationId === 'DeleteConnector' && raw.statusCode >= 400)
        if (referenceDeclares && reference?.hasOperation(operationId)) {
          assert.deepEqual(reference.check(operationId, raw.statusCode, body), [], `${label}: violates the reference contract`)
        }
      }
      if (raw.statusCode >= 400) {
        assert.equal(typeof (body as { code?: unknown } | undefined)?.code, 'string', `${label}: error without envelope: ${raw.body}`)
      }
      return { status: raw.statusCode, headers: raw.headers, body, raw }
    },
    async close() {
      await app.close()
      if (owned) await owned.drop()
    },
  }
}

