import { createLocalJWKSet, type JSONWebKeySet, type JWTHeaderParameters, type FlattenedJWSInput, type CryptoKey } from 'jose'

/**
 * The IdP's signing keys, fetched from its JWKS URL.
 *
 * - A token with an unknown `kid` triggers one refetch (key rotation), at most once per
 *   `cooldownMs`, so random `kid`s cannot make the service hammer the IdP.
 * - Keys are also refreshed in the background of requests every `refreshMs`.
 * - When the JWKS endpoint is down the last good key set stays in use, so tokens signed by
 *   known keys keep verifying.
 */
export interface JwksOptions {
  url: string
  cooldownMs: number
  refreshMs: number
  timeoutMs: number
  fetch?: typeof fetch
}

type KeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>

export class JwksKeyStore {
  readonly #options: JwksOptions
  #keys: KeyResolver | undefined
  #kids = new Set<string>()
  #fetchedAt = 0
  #lastAttempt = 0
  #inflight: Promise<void> | undefined

  constructor(options: JwksOptions) {
    this.#options = options
  }

  /** The key for a token header, refetching at most once per cooldown when the kid is unknown. */
  readonly getKey = async (header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const now = Date.now()
    const kidUnknown = header.kid === undefined ? this.#keys === undefined : !this.#kids.has(header.kid)
    const stale = now - this.#fetchedAt > this.#options.refreshMs
    if ((kidUnknown || stale) && now - this.#lastAttempt >= this.#options.cooldownMs) {
      await this.#refresh()
    }
    if (!this.#keys) throw new Error('no JWKS available')
    return this.#keys(header, token)
  }

  async #refresh(): Promise<void> {
    this.#inflight ??= this.#load().finally(() => {
      this.#inflight = undefined
    })
    return this.#inflight
  }

  async #load(): Promise<void> {
    this.#lastAttempt = Date.now()
    try {
      const response = await (this.#options.fetch ?? fetch)(this.#options.url, {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'error',
      })
      if (!response.ok) return
      const jwks = (await response.json()) as JSONWebKeySet
      if (!jwks || !Array.isArray(jwks.keys)) return
      this.#keys = createLocalJWKSet(jwks)
      this.#kids = new Set(jwks.keys.map((k) => k.kid).filter((kid): kid is string => typeof kid === 'string'))
      this.#fetchedAt = Date.now()
    } catch {
      // Keep the last good key set: an IdP outage must not lock out holders of valid tokens.
    }
  }
}
