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

/**
 * What every API response carries: the OWASP REST Security Cheat Sheet's set. A JSON response is
 * never rendered as a document, so it may load nothing and be framed by nothing; the headers that
 * govern documents (cross-origin opener, DNS prefetch, IE download and Flash policies, the XSS
 * auditor) do not apply to it. Six headers instead of helmet's twelve: Node validates each one
 * on every response, and they were most of the bytes of a version read.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-site',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
}

/**
 * Sends the API's headers on every response, errors and 404s included, and helmet's full set,
 * configured by `docs`, on the HTML docs UI under `docsPrefix`.
 */
export const staticSecurityHeaders = fp(async (app: FastifyInstance, options: { docsPrefix: string; docs: HelmetOptions }) => {
  const docsHeaders = securityHeaders(options.docs)
  const { docsPrefix } = options
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.url
    const docs = url.startsWith(docsPrefix) && (url.length === docsPrefix.length || '/?#'.includes(url[docsPrefix.length]!))
    reply.headers(docs ? docsHeaders : API_SECURITY_HEADERS)
    done()
  })
})
