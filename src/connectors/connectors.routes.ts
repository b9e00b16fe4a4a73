import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { representationSender } from '../http/representation.ts'
import {
  ConnectorParams,
  errorResponses,
  ForceQuery,
  IdempotencyHeaders,
  IfMatchHeaders,
  IfNoneMatchHeaders,
  OrganisationParams,
} from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import {
  CATEGORIES,
  CategoriesBodySchema,
  CategorySchema,
  ConnectorListQuery,
  ConnectorPageSchema,
  HttpConnectorCreateSchema,
  HttpConnectorSchema,
  HttpConnectorUpdateSchema,
  TagsBodySchema,
} from './connectors.schemas.ts'
import * as connectors from './connectors.service.ts'

const tags = ['connectors']
const NoContent = Type.Null({ description: 'No Content' })

export const connectorRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  const sendRepresentation = representationSender(registry.compressed)
  app.route({
    method: 'POST',
    url: '/o/:organisation_id/protocols/http/connectors',
    config: { idempotent: true },
    schema: {
      operationId: 'CreateHTTPConnector',
      summary: 'Create an HTTP connector',
      tags: [...tags, 'protocol-http'],
      params: OrganisationParams,
      headers: IdempotencyHeaders,
      body: HttpConnectorCreateSchema,
      response: { 201: HttpConnectorSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const connector = await connectors.createHttpConnector(registry, request.principal, request.params.organisation_id, request.body)
      return reply.code(201).header('etag', connectors.connectorEtag(connector)).send(connector)
    },
  })

  // Other protocols of the reference (bigquery …) are not supported: a clear 400, not a 404.
  app.route({
    method: 'POST',
    url: '/o/:organisation_id/protocols/:protocol/connectors',
    schema: {
      hide: true,
      params: Type.Object({ organisation_id: OrganisationParams.properties.organisation_id, protocol: Type.String() }),
    },
    handler: async (request) =>
      connectors.createConnectorOfProtocol(registry, request.principal, request.params.organisation_id, request.params.protocol),
  })

  app.route({
    method: 'GET',
    url: '/o/:organisation_id/connectors',
    schema: {
      operationId: 'ListConnectors',
      summary: "List the organisation's connectors, most recently updated first",
      tags,
      params: OrganisationParams,
      querystring: ConnectorListQuery,
      response: { 200: ConnectorPageSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const page = await connectors.listConnectors(registry, request.principal, request.params.organisation_id, request.query)
      return sendRepresentation(request, reply, page)
    },
  })

  app.route({
    method: 'GET',
    url: '/connectors',
    schema: {
      operationId: 'ListPublicConnectors',
      summary: 'List public connectors of every organisation (published versions only)',
      tags,
      querystring: ConnectorListQuery,
      response: { 200: ConnectorPageSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      return sendRepresentation(request, reply, await connectors.listPublicConnectors(registry, request.principal, request.query))
    },
  })

  app.route({
    method: 'GET',
    url: '/categories',
    schema: {
      operationId: 'ListCategories',
      summary: 'List every category a connector can have',
      tags: ['misc'],
      response: { 200: Type.Array(CategorySchema), ...errorResponses },
    },
    handler: async () => [...CATEGORIES],
  })

  app.route({
    method: 'GET',
    url: '/o/:organisation_id/connectors/:connector_id',
    schema: {
      operationId: 'GetConnector',
      summary: 'Get a connector with its versions',
      tags,
      params: ConnectorParams,
      headers: IfNoneMatchHeaders,
      response: { 200: HttpConnectorSchema, 304: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      const connector = await connectors.getConnector(registry, request.principal, targetOf(request.params))
      return sendRepresentation(request, reply, connector)
    },
  })

  app.route({
    method: 'PUT',
    url: '/o/:organisation_id/connectors/:connector_id',
    schema: {
      operationId: 'UpdateConnector',
      summary: 'Replace the mutable fields of a connector',
      tags,
      params: ConnectorParams,
      headers: IfMatchHeaders,
      body: HttpConnectorUpdateSchema,
      response: { 200: HttpConnectorSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const connector = await connectors.updateHttpConnector(
        registry,
        request.principal,
        targetOf(request.params),
        request.body,
        request.headers['if-match'],
      )
      return reply.header('etag', connectors.connectorEtag(connector)).send(connector)
    },
  })

  app.route({
    method: 'DELETE',
    url: '/o/:organisation_id/connectors/:connector_id',
    schema: {
      operationId: 'DeleteConnector',
      summary: 'Delete a connector and all its versions',
      tags,
      params: ConnectorParams,
      querystring: ForceQuery,
      headers: IfMatchHeaders,
      response: { 204: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      await connectors.deleteHttpConnector(registry, request.principal, targetOf(request.params), {
        force: request.query.force ?? false,
        ifMatch: request.headers['if-match'],
      })
      return reply.code(204).send(null)
    },
  })

  app.route({
    method: 'PUT',
    url: '/o/:organisation_id/connectors/:connector_id/tags',
    schema: {
      operationId: 'UpdateConnectorTags',
      summary: "Replace a connector's tags",
      tags,
      params: ConnectorParams,
      headers: IfMatchHeaders,
      body: TagsBodySchema,
      response: { 204: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      await connectors.setConnectorTags(registry, request.principal, targetOf(request.params), request.body.tags, request.headers['if-match'])
      return reply.code(204).send(null)
    },
  })

  app.route({
    method: 'PUT',
    url: '/o/:organisation_id/connectors/:connector_id/categories',
    schema: {
      operationId: 'UpdateConnectorCategories',
      summary: "Replace a connector's categories",
      tags,
      params: ConnectorParams,
      headers: IfMatchHeaders,
      body: CategoriesBodySchema,
      response: { 204: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      await connectors.setConnectorCategories(
        registry,
        request.principal,
        targetOf(request.params),
        request.body.categories,
        request.headers['if-match'],
      )
      return reply.code(204).send(null)
    },
  })
}

function targetOf(params: { organisation_id: string; connector_id: string }): connectors.ConnectorTarget {
  return { organisationId: params.organisation_id, connectorId: params.connector_id }
}
