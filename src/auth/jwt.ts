import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import type { JwtConfig } from '../config.ts'
import { JwksKeyStore } from './jwks.ts'
import type { Principal } from './principal.ts'

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** API keys never contain dots; anything shaped like a compact JWS is verified as a JWT. */
export function looksLikeJwt(token: string): boolean {
  return token.includes('.')
}

// Header parameters that point at keys elsewhere. They are never fetched or trusted; a token
// carrying one is rejected outright.
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c']

export type JwtVerifier = (token: string, method: 'jwt' | 'cookie') => Promise<Principal | undefined>

/**
 * Verifies internal consumers' id_tokens against the IdP's JWKS. Every failure — whatever its
 * reason — yields undefined so the caller answers one identical 401.
 */
export function createJwtVerifier(config: JwtConfig, fetchImpl?: typeof fetch): JwtVerifier {
  const keys = new JwksKeyStore({
    url: config.jwksUrl,
    cooldownMs: config.jwksCooldownS * 1000,
    refreshMs: config.jwksRefreshS * 1000,
    timeoutMs: 5000,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  return async (token, method) => {
    if (Buffer.byteLength(token) > config.maxTokenBytes || !COMPACT_JWS.test(token)) return undefined
    let payload: JWTPayload
    try {
      const header = decodeProtectedHeader(token)
      // Allow-list only: rejects "none" in any case, HMAC (HS*) and anything unexpected.
      if (typeof header.alg !== 'string' || !config.algorithms.includes(header.alg)) return undefined
      if (FORBIDDEN_HEADERS.some((name) => name in header)) return undefined
      ;({ payload } = await jwtVerify(token, keys.getKey, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      }))
    } catch {
      return undefined
    }
    const organisations = organisationsOf(payload[config.orgClaim])
    if (!organisations || typeof payload.sub !== 'string' || payload.sub === '') return undefined
    return { method, subject: `jwt:${payload.sub}`, organisations, scope: 'write' }
  }
}

function organisationsOf(claim: unknown): Principal['organisations'] | undefined {
  const values = typeof claim === 'string' ? [claim] : claim
  if (!Array.isArray(values) || values.length === 0 || values.length > 10_000) return undefined
  if (!values.every((v): v is string => typeof v === 'string' && v !== '')) return undefined
  return values.includes('*') ? '*' : values
}
