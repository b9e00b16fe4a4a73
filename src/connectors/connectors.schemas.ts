import Type, { type Static } from 'typebox'
import { PageInfoProperties, PageQuery } from '../http/schemas.ts'
import { ConnectorVersionSchema } from '../versions/versions.schemas.ts'
import { AuthSchemeConfigSchema } from './auth-scheme.schemas.ts'

export const CATEGORIES = [
  'Development & IT',
  'ERP',
  'Supply Chain & Logistics',
  'Communication',
  'Accounting',
  'Hospitality',
  'Productivity',
  'HR',
  'CRM',
  'AI/LLMs',
  'eCommerce',
  'Business Operations',
] as const

export type Category = (typeof CATEGORIES)[number]
export const CategorySchema = Type.Unsafe<Category>({ type: 'string', enum: [...CATEGORIES] })

// Tag keys cannot contain ':' or ',' and values cannot contain ',': those separate the
// `tags` filter of the list operations ("key:value,key").
export const TagsSchema = Type.Record(
  Type.String({ pattern: '^[^:,]{1,128}$' }),
  Type.Array(Type.String({ pattern: '^[^,]{1,256}$' }), { maxItems: 64 }),
  {
    maxProperties: 64,
    // patternProperties alone lets other keys through unvalidated: reject them instead.
    propertyNames: { pattern: '^[^:,]{1,128}$' },
    description: 'Map of tag key to values; a key may have no values.',
  },
)
export type Tags = Static<typeof TagsSchema>

export const ConnectionVariableSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 256 }), value: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
)
export type ConnectionVariable = Static<typeof ConnectionVariableSchema>

const connectorName = Type.String({ minLength: 1, maxLength: 256, pattern: '\\S' })
const httpUrl = Type.String({ maxLength: 2048, pattern: '^https?://[^\\s]+$', description: 'An absolute http(s) URL.' })
const optionalUrl = Type.Optional(Type.String({ maxLength: 2048 }))

export const HttpConnectorCreateSchema = Type.Object(
  {
    name: connectorName,
    baseUrl: httpUrl,
    connectionVariables: Type.Optional(Type.Array(ConnectionVariableSchema, { maxItems: 256 })),
    authSchemeConfigs: Type.Array(AuthSchemeConfigSchema, { maxItems: 32 }),
    tags: Type.Optional(TagsSchema),
    public: Type.Optional(Type.Boolean()),
    documentationURL: optionalUrl,
    imageURL: optionalUrl,
    connections: Type.Optional(
      Type.Array(Type.Unknown(), { description: 'Accepted for compatibility and ignored: connections are not managed here.' }),
    ),
  },
  { additionalProperties: false },
)
export type HttpConnectorCreate = Static<typeof HttpConnectorCreateSchema>

export const HttpConnectorUpdateSchema = Type.Object(
  {
    id: Type.String({ description: 'Read-only: must equal the connector id.' }),
    organisationId: Type.String({ description: 'Read-only: must equal the owning organisation.' }),
    name: connectorName,
    protocol: Type.String({ description: 'Read-only: must be the connector protocol ("http").' }),
    baseUrl: httpUrl,
    tags: Type.Optional(TagsSchema),
    authSchemeConfigIds: Type.Optional(
      Type.Array(Type.String(), { maxItems: 32, description: 'A reordering of the existing auth scheme config ids.' }),
    ),
    public: Type.Optional(Type.Boolean()),
    documentationURL: optionalUrl,
    imageURL: optionalUrl,
    connectionVariables: Type.Optional(Type.Array(ConnectionVariableSchema, { maxItems: 256 })),
  },
  { additionalProperties: false },
)
export type HttpConnectorUpdate = Static<typeof HttpConnectorUpdateSchema>

export const HttpConnectorSchema = Type.Object({
  id: Type.String({ format: 'ulid' }),
  organisationId: Type.String({ format: 'ulid' }),
  name: Type.String(),
  public: Type.Boolean(),
  protocol: Type.Literal('http'),
  baseUrl: Type.String(),
  documentationURL: Type.Optional(Type.String()),
  imageURL: Type.Optional(Type.String()),
  tags: TagsSchema,
  categories: Type.Array(CategorySchema, { description: 'Extension: the connector categories.' }),
  authSchemeConfigs: Type.Array(AuthSchemeConfigSchema),
  connectionVariables: Type.Array(ConnectionVariableSchema),
  connections: Type.Array(Type.Unknown(), { description: 'Always empty: connections are not managed here.' }),
  versions: Type.Array(ConnectorVersionSchema),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})
export type HttpConnector = Static<typeof HttpConnectorSchema>

export const ConnectorPageSchema = Type.Object({
  ...PageInfoProperties,
  connectors: Type.Array(HttpConnectorSchema),
})

export const SORT_FIELDS = ['name', 'createdAt', 'updatedAt', 'id'] as const

export const ConnectorListQuery = Type.Object({
  ...PageQuery,
  sort: Type.Optional(
    Type.String({
      pattern: '^([^:,]+:[^:,]+)(,[^:,]+:[^:,]+)*$',
      maxLength: 256,
      description: 'Comma-separated field:direction pairs; fields name, createdAt, updatedAt, id; directions asc, desc.',
    }),
  ),
  tags: Type.Optional(Type.String({ maxLength: 2048, description: 'key[:value] pairs separated by ","; all must match.' })),
  categories: Type.Optional(Type.Array(CategorySchema, { maxItems: 32, description: 'Any of the categories matches.' })),
  protocol: Type.Optional(Type.String({ maxLength: 64, description: 'Case-insensitive substring match.' })),
  name: Type.Optional(Type.String({ maxLength: 256, description: 'Case-insensitive substring match.' })),
})
export type ConnectorListQuery = Static<typeof ConnectorListQuery>

export const TagsBodySchema = Type.Object({ tags: TagsSchema }, { additionalProperties: false })
export const CategoriesBodySchema = Type.Object(
  { categories: Type.Array(CategorySchema, { maxItems: 32 }) },
  { additionalProperties: false },
)
