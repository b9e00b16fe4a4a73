import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { representationSender } from '../http/representation.ts'
import {
  ConnectorParams,
  errorResponses,
  ForceQuery,
  IdempotencyHeaders,
  IfMatchIdempotencyHeaders,
  IfMatchHeaders,
  IfNoneMatchHeaders,
  PageQuery,
  VersionParams,
} from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import { versionEtag } from './versions.dto.ts'
import {
  ConnectorVersionCreateSchema,
  ConnectorVersionSchema,
  ConnectorVersionsPageSchema,
  ConnectorVersionUpdateSchema,
  PublishResponseSchema,
} from './versions.schemas.ts'
import * as versions from './versions.service.ts'

const tags = ['connector-version']
const NoContent = Type.Null({ description: 'No Content' })

function targetOf(params: { organisation_id: string; connector_id: string; version: string }): versions.VersionTarget {
  return { organisationId: params.organisation_id, connectorId: params.connector_id, version: params.version }
}

export const versionRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  const sendRepresentation = representationSender(registry.compressed)
  app.route({
    method: 'POST',
    url: '/o/:organisation_id/connectors/:connector_id/versions',
    config: { idempotent: true },
    schema: {
      operationId: 'CreateConnectorVersion',
      summary: 'Create a draft version, optionally copying another version',
      tags,
      params: ConnectorParams,
      headers: IdempotencyHeaders,
      body: ConnectorVersionCreateSchema,
      response: { 201: ConnectorVersionSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const version = await versions.createVersion(
        registry,
        request.principal,
        { organisationId: request.params.organisation_id, connectorId: request.params.connector_id },
        request.body,
      )
      return reply.code(201).header('etag', versionEtag(version)).send(version)
    },
  })

  app.route({
    method: 'GET',
    url: '/o/:organisation_id/connectors/:connector_id/versions',
    schema: {
      operationId: 'ListConnectorVersions',
      summary: 'List versions, most recently updated first',
      tags,
      params: ConnectorParams,
      querystring: Type.Object(PageQuery),
      response: { 200: ConnectorVersionsPageSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const page = await versions.listVersions(
        registry,
        request.principal,
        { organisationId: request.params.organisation_id, connectorId: request.params.connector_id },
        request.query,
      )
      return sendRepresentation(request, reply, page)
    },
  })

  app.route({
    method: 'GET',
    url: '/o/:organisation_id/connectors/:connector_id/versions/:version',
    schema: {
      operationId: 'GetConnectorVersion',
      summary: 'Get a version by name, or by the alias latest or default',
      tags,
      params: VersionParams,
      headers: IfNoneMatchHeaders,
      response: { 200: ConnectorVersionSchema, 304: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      const version = await versions.getVersion(registry, request.principal, targetOf(request.params))
      return sendRepresentation(request, reply, version)
    },
  })

  app.route({
    method: 'PUT',
    url: '/o/:organisation_id/connectors/:connector_id/versions/:version',
    schema: {
      operationId: 'UpdateConnectorVersion',
      summary: 'Update a version: name and description of drafts, isDefault of published versions',
      tags,
      params: VersionParams,
      headers: IfMatchHeaders,
      body: ConnectorVersionUpdateSchema,
      response: { 200: ConnectorVersionSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const version = await versions.updateConnectorVersion(
        registry,
        request.principal,
        targetOf(request.params),
        request.body,
        request.headers['if-match'],
      )
      return reply.header('etag', versionEtag(version)).send(version)
    },
  })

  app.route({
    method: 'DELETE',
    url: '/o/:organisation_id/connectors/:connector_id/versions/:version',
    schema: {
      operationId: 'DeleteConnectorVersion',
      summary: 'Delete a version (published ones only with force=true)',
      tags,
      params: VersionParams,
      querystring: ForceQuery,
      headers: IfMatchHeaders,
      response: { 204: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      await versions.deleteConnectorVersion(registry, request.principal, targetOf(request.params), {
        force: request.query.force ?? false,
        ifMatch: request.headers['if-match'],
      })
      return reply.code(204).send(null)
    },
  })

  app.route({
    method: 'POST',
    url: '/o/:organisation_id/connectors/:connector_id/versions/:version/publish',
    config: { idempotent: true },
    schema: {
      operationId: 'PublishConnector',
      summary: 'Publish a draft version; it becomes immutable and the latest',
      tags,
      params: VersionParams,
      headers: IfMatchIdempotencyHeaders,
      response: { 200: PublishResponseSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const version = await versions.publishVersion(registry, request.principal, targetOf(request.params), request.headers['if-match'])
      return reply.header('etag', versionEtag(version)).send({ version })
    },
  })

  app.route({
    method: 'POST',
    url: '/o/:organisation_id/connectors/:connector_id/versions/:version/unpublish',
    config: { idempotent: true },
    schema: {
      operationId: 'UnpublishConnector',
      summary: 'Return a published version to draft',
      tags,
      params: VersionParams,
      headers: IfMatchIdempotencyHeaders,
      response: { 200: PublishResponseSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const version = await versions.unpublishVersion(registry, request.principal, targetOf(request.params), request.headers['if-match'])
      return reply.header('etag', versionEtag(version)).send({ version })
    },
  })
}
