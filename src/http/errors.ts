/**
 * The error catalogue: every machine-readable `code` the API can answer with, its HTTP status
 * and default message. Services throw ApiError; the error handler renders the reference
 * `Error` envelope `{code, message, fields?, details?}`. README lists these codes.
 */
export const ERROR_CODES = {
  validation_failed: [400, 'The request is invalid.'],
  invalid_json: [400, 'The request body is not valid JSON.'],
  invalid_cursor: [400, 'The pagination cursor is invalid or belongs to another listing.'],
  read_only_field: [400, 'Read-only fields cannot be changed.'],
  reserved_version_name: [400, 'Version names "latest" and "default" are reserved.'],
  invalid_version_name: [400, 'Version names are 1-128 printable characters without "/".'],
  unsupported_protocol: [400, 'Only the http protocol is supported.'],
  default_requires_published: [400, 'Only a published version can be the default.'],
  unknown_version: [400, 'The version named in the request does not exist.'],
  invalid_idempotency_key: [400, 'Idempotency-Key must be 1-255 printable ASCII characters.'],
  unsupported_type: [400, 'Only http actions and triggers are supported.'],
  unknown_definition: [400, 'A referenced definition does not exist in this version.'],
  version_invalid: [400, 'The version has validation errors and cannot be published.'],
  unauthenticated: [401, 'Missing, invalid, expired or revoked credentials.'],
  forbidden: [403, 'These credentials may not act on this organisation.'],
  not_found: [404, 'The requested resource does not exist.'],
  connector_not_found: [404, 'The connector does not exist.'],
  version_not_found: [404, 'The connector version does not exist.'],
  action_not_found: [404, 'The action does not exist in this version.'],
  trigger_not_found: [404, 'The trigger does not exist in this version.'],
  definition_not_found: [404, 'The definition does not exist in this version.'],
  subscription_not_found: [404, 'The connector has no subscription for this subscriber.'],
  request_timeout: [408, 'The request took too long to arrive.'],
  version_name_conflict: [409, 'Another version of this connector already has that name.'],
  version_published: [409, 'A published version is immutable.'],
  version_already_published: [409, 'The version is already published.'],
  version_not_published: [409, 'The version is not published.'],
  action_name_conflict: [409, 'Another action of this version already has that name.'],
  trigger_name_conflict: [409, 'Another trigger of this version already has that name.'],
  definition_name_conflict: [409, 'Another definition of this version already has that name.'],
  version_subscribed: [409, 'Subscribers use this version; it cannot be unpublished or deleted.'],
  connector_subscribed: [409, 'Subscribers use versions of this connector; delete it with force=true.'],
  idempotency_in_progress: [409, 'A request with this Idempotency-Key is still being processed; retry later.'],
  precondition_failed: [412, 'If-Match does not match the current entity tag.'],
  definition_referenced: [412, 'The definition is referenced; delete with force=true to leave the references dangling.'],
  payload_too_large: [413, 'The request body is larger than the limit.'],
  unsupported_media_type: [415, 'Request bodies must be application/json.'],
  idempotency_key_reused: [422, 'This Idempotency-Key was used with a different request.'],
  rate_limited: [429, 'Too many requests; retry after the time in Retry-After.'],
  request_header_too_large: [431, 'The request headers are too large.'],
  internal_error: [500, 'Internal server error.'],
  service_unavailable: [503, 'The service is not ready.'],
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof ERROR_CODES

export interface ErrorField {
  field: string
  message: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: ErrorCode
  readonly fields: ErrorField[] | undefined
  readonly details: string | undefined

  constructor(code: ErrorCode, options: { message?: string; fields?: ErrorField[]; details?: string } = {}) {
    const [status, defaultMessage] = ERROR_CODES[code]
    super(options.message ?? defaultMessage)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = options.fields
    this.details = options.details
  }

  toBody(): { code: string; message: string; fields?: ErrorField[]; details?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.fields ? { fields: this.fields } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    }
  }
}
