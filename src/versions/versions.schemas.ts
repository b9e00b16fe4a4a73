import Type, { type Static } from 'typebox'
import { MessageSchema, PageInfoProperties } from '../http/schemas.ts'

const timestamp = Type.String({ format: 'date-time' })
/**
 * A date-time or null, as a JSON Schema type list rather than anyOf: the response serialiser
 * runs a validator per anyOf branch to choose one (a third of serialising a version).
 */
const timestampOrNull = Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'date-time' })

export const ConnectorVersionSchema = Type.Object({
  id: Type.String({ format: 'ulid' }),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  isLatest: Type.Boolean({ description: 'The published version with the greatest publishedAt.' }),
  isDefault: Type.Boolean({ description: 'The pinned default, or the latest when none is pinned.' }),
  createdAt: timestamp,
  updatedAt: timestamp,
  publishedAt: timestampOrNull,
  messages: Type.Array(MessageSchema),
})
export type ConnectorVersion = Static<typeof ConnectorVersionSchema>

// Names are validated by the service (version-rules.ts) so reserved and malformed names get
// their own error codes; the schema only bounds the size.
const versionName = Type.String({ maxLength: 1024 })

export const ConnectorVersionCreateSchema = Type.Object(
  {
    name: versionName,
    fromVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Name or alias of the version to copy.' })),
  },
  { additionalProperties: false },
)
export type ConnectorVersionCreate = Static<typeof ConnectorVersionCreateSchema>

export const ConnectorVersionUpdateSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'Read-only.' })),
    name: versionName,
    description: Type.Optional(Type.String({ maxLength: 10000, description: 'Omitted clears it.' })),
    isLatest: Type.Optional(Type.Boolean({ description: 'Read-only.' })),
    isDefault: Type.Optional(Type.Boolean({ description: 'true pins this published version as default; false unpins it.' })),
    createdAt: Type.Optional(Type.String({ format: 'date-time', description: 'Read-only.' })),
    updatedAt: Type.Optional(Type.String({ format: 'date-time', description: 'Read-only.' })),
    publishedAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Read-only.' })),
    messages: Type.Optional(Type.Array(Type.Unknown(), { description: 'Ignored.' })),
  },
  { additionalProperties: false },
)
export type ConnectorVersionUpdate = Static<typeof ConnectorVersionUpdateSchema>

export const ConnectorVersionsPageSchema = Type.Object({
  ...PageInfoProperties,
  items: Type.Array(ConnectorVersionSchema),
})

export const PublishResponseSchema = Type.Object({ version: ConnectorVersionSchema })
