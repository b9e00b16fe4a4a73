import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { errorResponses, ForceQuery, IdempotencyHeaders, VersionParams } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import { contentTargetOf } from './actions.routes.ts'
import {
  ContentListQuery,
  DefinitionDeletePreconditionFailedSchema,
  DefinitionPageSchema,
  DefinitionSchema,
  DefinitionsCreateSchema,
  DefinitionsDeleteSchema,
  DefinitionsSchema,
  DefinitionUpdateSchema,
} from './content.schemas.ts'
import * as content from './content.service.ts'

const tags = ['definitions']
const NoContent = Type.Null({ description: 'No Content' })
const base = '/o/:organisation_id/connectors/:connector_id/versions/:version/definitions'
const DefinitionParams = Type.Object({ ...VersionParams.properties, definition_name: Type.String({ minLength: 1, maxLength: 256 }) })
const immutable =
  'Published versions are immutable (409 version_published); every change moves the version\'s and the connector\'s updatedAt.'

export const definitionRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  app.route({
    method: 'GET',
    url: base,
    schema: {
      operationId: 'GetDefinitions',
      summary: 'List the definitions of a version (creation order), filtered by name',
      tags,
      params: VersionParams,
      querystring: ContentListQuery,
      response: { 200: DefinitionPageSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { items, pageInfo } = await content.listDefinitions(registry, request.principal, contentTargetOf(request, request.params), request.query)
      return { ...pageInfo, definitions: items }
    },
  })

  app.route({
    method: 'POST',
    url: base,
    config: { idempotent: true },
    schema: {
      operationId: 'CreateDefinitions',
      summary: 'Create one or more definitions, which may reference each other',
      description:
        'JSON Schema documents (contentType application/schema+json or another +json type) are checked against their ' +
        'meta-schema (2020-12 or draft-07); problems are validation errors of the version, not 400s. Other documents ' +
        `(XSD, YAML …) are stored as they are. ${immutable}`,
      tags,
      params: VersionParams,
      headers: IdempotencyHeaders,
      body: DefinitionsCreateSchema,
      response: { 201: DefinitionsSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const definitions = await content.createDefinitions(registry, request.principal, contentTargetOf(request, request.params), request.body)
      return reply.code(201).send({ definitions })
    },
  })

  app.route({
    method: 'DELETE',
    url: base,
    schema: {
      operationId: 'DeleteDefinitions',
      summary: 'Delete definitions by ids and/or names, or all of them',
      description: `412 when something outside the deleted set references one of them, unless force=true. ${immutable}`,
      tags,
      params: VersionParams,
      querystring: ForceQuery,
      body: DefinitionsDeleteSchema,
      response: { 204: NoContent, 412: DefinitionDeletePreconditionFailedSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      await content.deleteDefinitions(
        registry,
        request.principal,
        contentTargetOf(request, request.params),
        request.body,
        request.query.force ?? false,
      )
      return reply.code(204).send(null)
    },
  })

  app.route({
    method: 'GET',
    url: `${base}/:definition_name`,
    schema: {
      operationId: 'GetDefinition',
      summary: 'Get one definition by name',
      tags,
      params: DefinitionParams,
      response: { 200: DefinitionSchema, ...errorResponses },
    },
    handler: async (request) =>
      content.getDefinition(registry, request.principal, contentTargetOf(request, request.params), request.params.definition_name),
  })

  app.route({
    method: 'PUT',
    url: `${base}/:definition_name`,
    schema: {
      operationId: 'UpdateDefinition',
      summary: 'Replace a definition (the name may change; an omitted schema is kept)',
      description: `id is read-only; an omitted description is cleared. References to it follow a rename. ${immutable}`,
      tags,
      params: DefinitionParams,
      body: DefinitionUpdateSchema,
      response: { 200: DefinitionSchema, ...errorResponses },
    },
    handler: async (request) =>
      content.updateDefinition(
        registry,
        request.principal,
        contentTargetOf(request, request.params),
        request.params.definition_name,
        request.body,
      ),
  })

  app.route({
    method: 'DELETE',
    url: `${base}/:definition_name`,
    schema: {
      operationId: 'DeleteDefinition',
      summary: 'Delete a definition',
      description: `412 when it is referenced, unless force=true; the references then become validation errors. ${immutable}`,
      tags,
      params: DefinitionParams,
      querystring: ForceQuery,
      response: { 204: NoContent, 412: DefinitionDeletePreconditionFailedSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      await content.deleteDefinition(
        registry,
        request.principal,
        contentTargetOf(request, request.params),
        request.params.definition_name,
        request.query.force ?? false,
      )
      return reply.code(204).send(null)
    },
  })

  app.route({
    method: 'GET',
    url: '/o/:organisation_id/schemas/:connector_id/:version/:schema_filename',
    schema: {
      operationId: 'GetRawSchema',
      summary: 'Get the schema document of a definition (<name or id>.<ext>)',
      description:
        'Served with the definition\'s schema content type. In JSON Schema documents, references to other definitions ' +
        'are rewritten to their current urls.',
      tags,
      params: Type.Object({ ...VersionParams.properties, schema_filename: Type.String({ minLength: 1, maxLength: 300 }) }),
      response: {
        200: {
          description: 'The schema document.',
          content: {
            'application/schema+json': { schema: Type.Union([Type.Object({}), Type.Boolean()]) },
            'text/plain': { schema: Type.String({ description: 'Documents that are not JSON Schema, with their own content type.' }) },
          },
        },
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      const raw = await content.getRawSchema(registry, request.principal, contentTargetOf(request, request.params), request.params.schema_filename)
      return reply.code(200).type(raw.contentType).serializer((payload: unknown) => payload as string).send(raw.document)
    },
  })
}
