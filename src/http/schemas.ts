import Type, { type Static } from 'typebox'
import { ERROR_CODES } from './errors.ts'

/** Schemas shared by every domain: the error envelope, paging, path parameters. */

const ulid = (description: string) => Type.String({ format: 'ulid', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$', description })

export const ErrorFieldSchema = Type.Object({
  field: Type.String({ description: 'Path of the offending field, e.g. "tags.env[0]".' }),
  message: Type.String(),
})

export const ErrorSchema = Type.Object(
  {
    code: Type.String({ description: 'Stable machine-readable code.', enum: Object.keys(ERROR_CODES) }),
    message: Type.String({ description: 'Human-readable explanation.' }),
    fields: Type.Optional(Type.Array(ErrorFieldSchema)),
    details: Type.Optional(Type.String()),
  },
  { description: 'Error envelope returned with every 4xx and 5xx response.' },
)

export const MessageSchema = Type.Object({
  text: Type.String(),
  severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')]),
  detail: Type.Optional(Type.Array(Type.String())),
})
export type Message = Static<typeof MessageSchema>

export const OrganisationParams = Type.Object({
  organisation_id: ulid('Organisation ID.'),
})

export const ConnectorParams = Type.Object({
  organisation_id: ulid('Organisation ID.'),
  connector_id: ulid('Connector ID.'),
})

export const VersionParams = Type.Object({
  organisation_id: ulid('Organisation ID.'),
  connector_id: ulid('Connector ID.'),
  version: Type.String({
    minLength: 1,
    maxLength: 512,
    description: 'A version name, or the alias "latest" or "default" (any case).',
  }),
})

export const MAX_PAGE_SIZE = 100

export const PageQuery = {
  first: Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20, description: 'Page size, 1-100.' }),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Cursor: the page after this one.' })),
  before: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Cursor: the page before this one.' })),
}

export const PageInfoProperties = {
  totalCount: Type.Integer(),
  next: Type.Optional(Type.String()),
  prev: Type.Optional(Type.String()),
}

export const ForceQuery = Type.Object({
  force: Type.Optional(Type.Boolean({ default: false })),
})

const ifMatch = Type.Optional(
  Type.String({ maxLength: 1024, description: 'Strong ETag from a previous GET; 412 when it no longer matches.' }),
)
const idempotencyKey = Type.Optional(
  Type.String({
    description:
      'Makes the POST safe to retry: the first response is stored for 24 h and replayed for the same key; ' +
      'the same key with a different request is 422, a repeat while the first still runs is 409.',
  }),
)

export const IfMatchHeaders = Type.Object({ 'if-match': ifMatch })
export const IdempotencyHeaders = Type.Object({ 'idempotency-key': idempotencyKey })
export const IfMatchIdempotencyHeaders = Type.Object({ 'if-match': ifMatch, 'idempotency-key': idempotencyKey })

export const IfNoneMatchHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ maxLength: 1024 })),
})

/** Every route answers errors in the same envelope. */
export const errorResponses = {
  '4xx': ErrorSchema,
  '5xx': ErrorSchema,
}
