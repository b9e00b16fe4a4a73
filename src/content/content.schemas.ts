import Type, { type Static } from 'typebox'
import { PageInfoProperties, PageQuery } from '../http/schemas.ts'

/**
 * A connector version's content: Definitions (schemas describing data), Actions (HTTP requests
 * the platform makes) and Triggers (webhooks the external system calls). Wire shapes follow the
 * reference contract; only the http type of actions and triggers exists here.
 */

const ulid = Type.String({ format: 'ulid' })
const optionalText = (maxLength: number, description?: string) =>
  Type.Optional(Type.String({ maxLength, ...(description ? { description } : {}) }))

export const OPERATION_NAME = '^[a-zA-Z0-9_\\-$]+$'
export const DEFINITION_NAME = '^[a-zA-Z0-9_\\-]+$'
const operationName = Type.String({ minLength: 1, maxLength: 128, pattern: OPERATION_NAME })
const definitionName = Type.String({ minLength: 1, maxLength: 128, pattern: DEFINITION_NAME })

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE'] as const
const HttpMethodSchema = Type.Union(HTTP_METHODS.map((m) => Type.Literal(m)), { description: 'HTTP method of the request.' })

const scalarType = Type.Union([Type.Literal('string'), Type.Literal('number'), Type.Literal('integer'), Type.Literal('boolean')])

/** Problems validation found in an action or trigger; `field` is a JSON pointer into it. */
export const ContentErrorSchema = Type.Object({
  field: Type.String({ description: 'JSON pointer into the action or trigger, e.g. "/responses/0/definitions".' }),
  message: Type.String(),
  severity: Type.Union([Type.Literal('error'), Type.Literal('warning')]),
})
export type ContentError = Static<typeof ContentErrorSchema>

// ---------------------------------------------------------------------------------------------
// Definitions

export const DefinitionReferenceSchema = Type.Object({
  type: Type.Union([Type.Literal('definition'), Type.Literal('action'), Type.Literal('trigger')]),
  id: ulid,
  name: Type.String(),
})

export const DefinitionSchema = Type.Object({
  id: ulid,
  name: Type.String(),
  accept: Type.Array(Type.String(), { description: 'Media types of the data this definition describes.' }),
  description: Type.Optional(Type.String()),
  url: Type.String({ format: 'uri', description: 'Where GetRawSchema serves the schema document.' }),
  referencedBy: Type.Array(DefinitionReferenceSchema, { description: 'Definitions, actions and triggers linking to it.' }),
})
export type DefinitionDto = Static<typeof DefinitionSchema>

const InlineSchemaSchema = Type.Object(
  {
    contentType: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'Media type of the schema document, e.g. application/schema+json (validated as JSON Schema) or text/xml.',
    }),
    content: Type.String({ minLength: 1, maxLength: 1_000_000, pattern: '\\S', description: 'The schema document.' }),
  },
  { additionalProperties: false },
)

const definitionCommon = {
  name: definitionName,
  accept: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 32 }),
  description: optionalText(10_000, 'Omitted on update clears it.'),
}

const DefinitionCreateSchema = Type.Object(
  { ...definitionCommon, schema: InlineSchemaSchema },
  { additionalProperties: false },
)
export type DefinitionCreate = Static<typeof DefinitionCreateSchema>

export const DefinitionsCreateSchema = Type.Object(
  {
    definitions: Type.Array(DefinitionCreateSchema, {
      minItems: 1,
      maxItems: 500,
      description:
        'JSON Schema documents reference other definitions with {"$ref": "#/$defs/<name>"} (a definition of this ' +
        'version or of the same request) or with the url of an existing definition.',
    }),
  },
  { additionalProperties: false },
)
export type DefinitionsCreate = Static<typeof DefinitionsCreateSchema>

export const DefinitionUpdateSchema = Type.Object(
  {
    id: Type.String({ description: 'Read-only: must be the definition id.' }),
    ...definitionCommon,
    schema: Type.Optional(InlineSchemaSchema),
    url: Type.Optional(Type.String({ description: 'Ignored.' })),
    referencedBy: Type.Optional(Type.Array(Type.Unknown(), { description: 'Ignored.' })),
  },
  { additionalProperties: false },
)
export type DefinitionUpdate = Static<typeof DefinitionUpdateSchema>

export const DefinitionsSchema = Type.Object({ definitions: Type.Array(DefinitionSchema) })
export const DefinitionPageSchema = Type.Object({ ...PageInfoProperties, definitions: Type.Array(DefinitionSchema) })

export const DefinitionsDeleteSchema = Type.Object(
  {
    ids: Type.Optional(Type.Array(ulid, { maxItems: 500 })),
    names: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 500 })),
    all: Type.Optional(Type.Boolean({ description: 'Deletes every definition; excludes ids and names.' })),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type DefinitionsDelete = Static<typeof DefinitionsDeleteSchema>

/** 412 body of DeleteDefinition(s): the error envelope plus what still references the definition. */
export const DefinitionDeletePreconditionFailedSchema = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    fields: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    details: Type.Optional(Type.String()),
    definition: Type.Object({
      id: ulid,
      name: Type.String(),
      referencedBy: Type.Array(DefinitionReferenceSchema),
    }),
  },
  { description: 'The definition is referenced; repeat with force=true to delete it anyway (the references then fail validation).' },
)

// ---------------------------------------------------------------------------------------------
// Actions and triggers

/** A link to a definition: by id or by name. On update the full Definition may be sent (id, else name, wins). */
const DefinitionRefSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { description: 'A definition of the same version, by id or by name.' },
)
export type DefinitionRef = Static<typeof DefinitionRefSchema>

const LinkInSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 64, description: 'Kept when it is the id of one of this entity\'s links.' })),
    definition: DefinitionRefSchema,
  },
  { additionalProperties: false },
)

const linksIn = Type.Array(LinkInSchema, { maxItems: 32 })

const RequestBodyInSchema = Type.Object(
  { required: Type.Boolean(), definitions: linksIn },
  { additionalProperties: false },
)

const ResponseInSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 64, description: 'Kept when it is a ULID unique among the responses.' })),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'Omitted: the default response.' })),
    definitions: linksIn,
  },
  { additionalProperties: false },
)

const parameterIn = <T extends string>(...places: T[]) => Type.Union(places.map((p) => Type.Literal(p)))
const parameterRest = {
  required: Type.Boolean(),
  type: scalarType,
  default: Type.Optional(Type.Unknown({ description: 'Used when no value is given; strings may be templates.' })),
}
const parameterName = Type.String({ minLength: 1, maxLength: 256 })

const ActionParameterSchema = Type.Object(
  {
    name: parameterName,
    in: parameterIn('cookie', 'header', 'path', 'query'),
    ...parameterRest,
    completion: Type.Optional(Type.Object({}, { additionalProperties: false })),
  },
  { additionalProperties: false },
)

const TriggerParameterSchema = Type.Object(
  { name: parameterName, in: parameterIn('cookie', 'header', 'query'), ...parameterRest },
  { additionalProperties: false },
)

export type OperationParameter = Static<typeof ActionParameterSchema> | Static<typeof TriggerParameterSchema>

const typeField = Type.String({ maxLength: 64, description: 'Only "http" is supported; anything else is 400.' })

const commonIn = {
  type: typeField,
  name: operationName,
  summary: optionalText(1024),
  description: optionalText(10_000),
  method: HttpMethodSchema,
  requestBody: Type.Optional(RequestBodyInSchema),
  responses: Type.Array(ResponseInSchema, { maxItems: 64 }),
}

const updateExtras = {
  id: Type.String({ description: 'Read-only: must be the id.' }),
  errors: Type.Optional(Type.Array(Type.Unknown(), { description: 'Ignored: computed by validation.' })),
}

const pathField = Type.String({ maxLength: 2048, description: 'Appended to the connector baseUrl; may use {{ param.<name> }}.' })

export const ActionCreateSchema = Type.Object(
  { ...commonIn, path: pathField, parameters: Type.Array(ActionParameterSchema, { maxItems: 128 }) },
  { additionalProperties: false },
)
export const ActionUpdateSchema = Type.Object(
  { ...updateExtras, ...commonIn, path: pathField, parameters: Type.Array(ActionParameterSchema, { maxItems: 128 }) },
  { additionalProperties: false },
)
export const TriggerCreateSchema = Type.Object(
  { ...commonIn, parameters: Type.Array(TriggerParameterSchema, { maxItems: 128 }) },
  { additionalProperties: false },
)
export const TriggerUpdateSchema = Type.Object(
  { ...updateExtras, ...commonIn, parameters: Type.Array(TriggerParameterSchema, { maxItems: 128 }) },
  { additionalProperties: false },
)

/** What the service accepts for both kinds (triggers have no path). */
export interface OperationInput {
  id?: string
  type: string
  name: string
  summary?: string
  description?: string
  method: (typeof HTTP_METHODS)[number]
  path?: string
  parameters: OperationParameter[]
  requestBody?: { required: boolean; definitions: { id?: string; definition: DefinitionRef }[] }
  responses: { id?: string; status?: number; definitions: { id?: string; definition: DefinitionRef }[] }[]
}

const LinkOutSchema = Type.Object({ id: ulid, definition: DefinitionSchema })

const responsesOut = Type.Array(
  Type.Object({ id: ulid, status: Type.Optional(Type.Integer()), definitions: Type.Array(LinkOutSchema) }),
)
const requestBodyOut = Type.Optional(Type.Object({ required: Type.Boolean(), definitions: Type.Array(LinkOutSchema) }))

const headOut = {
  id: ulid,
  type: Type.Literal('http'),
  name: Type.String(),
  summary: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  errors: Type.Array(ContentErrorSchema, { description: 'Validation result: empty when valid.' }),
  method: HttpMethodSchema,
}

export const ActionSchema = Type.Object({
  ...headOut,
  path: Type.String(),
  parameters: Type.Array(ActionParameterSchema),
  requestBody: requestBodyOut,
  responses: responsesOut,
})
export const TriggerSchema = Type.Object({
  ...headOut,
  parameters: Type.Array(TriggerParameterSchema),
  requestBody: requestBodyOut,
  responses: responsesOut,
})

export interface OperationDto {
  id: string
  type: 'http'
  name: string
  summary?: string
  description?: string
  errors: ContentError[]
  method: (typeof HTTP_METHODS)[number]
  path?: string
  parameters: OperationParameter[]
  requestBody?: { required: boolean; definitions: { id: string; definition: DefinitionDto }[] }
  responses: { id: string; status?: number; definitions: { id: string; definition: DefinitionDto }[] }[]
}

export const ActionPageSchema = Type.Object({ ...PageInfoProperties, actions: Type.Array(ActionSchema) })
export const TriggerPageSchema = Type.Object({ ...PageInfoProperties, triggers: Type.Array(TriggerSchema) })

export const ContentListQuery = Type.Object({
  ...PageQuery,
  name: Type.Optional(Type.String({ maxLength: 256, description: 'Case-insensitive substring match on the name.' })),
})
export type ContentListQuery = Static<typeof ContentListQuery>
