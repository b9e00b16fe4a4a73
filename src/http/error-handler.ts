import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isUnstorableText } from '../db/dialect.ts'
import { ApiError, type ErrorField } from './errors.ts'

interface AjvIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** `/tags/env/0` -> `tags.env[0]`, the reference's field notation. */
export function fieldPath(instancePath: string, prefix?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  let out = prefix ?? ''
  for (const part of parts) {
    if (/^\d+$/.test(part)) out += `[${part}]`
    else out += out ? `.${part}` : part
  }
  return out
}

function validationFields(issues: AjvIssue[], context: string | undefined): ErrorField[] {
  const prefix = context === 'body' || context === undefined ? undefined : context
  const fields: ErrorField[] = []
  const seen = new Set<string>()
  for (const issue of issues) {
    let field = fieldPath(issue.instancePath, prefix)
    let message = issue.message ?? 'is invalid'
    if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
      field = field ? `${field}.${issue.params.missingProperty}` : issue.params.missingProperty
      message = 'is required'
    } else if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
      field = field ? `${field}.${issue.params.additionalProperty}` : issue.params.additionalProperty
      message = 'is not allowed'
    }
    const key = `${field}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    fields.push({ field: field || context || 'body', message })
  }
  return fields
}

/** Maps a framework or client error to the catalogue; anything else is a 500 without detail. */
export function toApiError(error: FastifyError): ApiError | undefined {
  if (error instanceof ApiError) return error
  if (error.validation) {
    const context = error.validationContext
    return new ApiError('validation_failed', {
      message: `The request ${context ?? 'body'} is invalid.`,
      fields: validationFields(error.validation as AjvIssue[], context),
    })
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('validation_failed', {
        message: 'A JSON request body is required.',
        fields: [{ field: 'body', message: 'is required' }],
      })
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('invalid_json')
  }
  if (error instanceof SyntaxError || /JSON/i.test(error.message) && error.statusCode === 400) {
    return new ApiError('invalid_json')
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError('validation_failed', { message: 'The request is invalid.' })
  }
  if (isUnstorableText(error)) {
    return new ApiError('validation_failed', { message: 'Text in the request contains a character that cannot be stored (U+0000).' })
  }
  return undefined
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.toBody())
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error)
    if (apiError) {
      if (apiError.status >= 500) request.log.error({ err: error, principal: request.principal?.subject }, 'request failed')
      return sendError(reply, apiError)
    }
    request.log.error({ err: error, principal: request.principal?.subject }, 'unhandled error')
    return sendError(reply, new ApiError('internal_error'))
  })
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError('not_found', { message: `No route for ${request.method} ${request.url.split('?')[0]}.` })),
  )
}
