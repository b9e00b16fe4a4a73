import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * helmet's headers, computed once. @fastify/helmet rebuilds helmet's middleware on every
 * request (5 % of the CPU of a version read in the benchmark profile), although with a fixed
 * configuration and no CSP nonces the headers never change.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let applied = false
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error
    applied = true
  })
  if (!applied) throw new Error('helmet did not apply its headers synchronously')
  return headers
}

/** Sends the headers on every response, errors and 404s included. */
export const staticSecurityHeaders = fp(async (app: FastifyInstance, options: HelmetOptions) => {
  const headers = securityHeaders(options)
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
})
