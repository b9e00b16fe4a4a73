import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type, { type TSchema } from 'typebox'
import { errorResponses, IdempotencyHeaders, VersionParams } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import type { OperationKind } from './content-rules.ts'
import {
  ActionCreateSchema,
  ActionPageSchema,
  ActionSchema,
  ActionUpdateSchema,
  ContentListQuery,
  TriggerCreateSchema,
  TriggerPageSchema,
  TriggerSchema,
  TriggerUpdateSchema,
  type OperationInput,
} from './content.schemas.ts'
import * as content from './content.service.ts'

const NoContent = Type.Null({ description: 'No Content' })

type VersionParamsValue = { organisation_id: string; connector_id: string; version: string }

/** The `{version}` addressed by a request, with the base URL definition urls are built on. */
export function contentTargetOf(request: FastifyRequest, params: VersionParamsValue): content.ContentTarget {
  return {
    organisationId: params.organisation_id,
    connectorId: params.connector_id,
    version: params.version,
    baseUrl: `${request.protocol}://${request.host}`,
  }
}

interface KindRoutes {
  kind: OperationKind
  plural: 'actions' | 'triggers'
  nameParam: 'action_name' | 'trigger_name'
  title: 'Action' | 'Trigger'
  what: string
  item: TSchema
  page: TSchema
  create: TSchema
  update: TSchema
}

const KINDS: KindRoutes[] = [
  {
    kind: 'action',
    plural: 'actions',
    nameParam: 'action_name',
    title: 'Action',
    what: 'an HTTP request the platform makes to the external system',
    item: ActionSchema,
    page: ActionPageSchema,
    create: ActionCreateSchema,
    update: ActionUpdateSchema,
  },
  {
    kind: 'trigger',
    plural: 'triggers',
    nameParam: 'trigger_name',
    title: 'Trigger',
    what: 'a webhook the external system calls',
    item: TriggerSchema,
    page: TriggerPageSchema,
    create: TriggerCreateSchema,
    update: TriggerUpdateSchema,
  },
]

const nameParam = Type.String({ minLength: 1, maxLength: 256 })

/** Actions and triggers of a connector version: the same operations and rules for both. */
export const operationRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  for (const k of KINDS) {
    const tags = [k.plural]
    const base = `/o/:organisation_id/connectors/:connector_id/versions/:version/${k.plural}`
    const ItemParams = Type.Object({ ...VersionParams.properties, [k.nameParam]: nameParam })
    const rules =
      'Published versions are immutable (409 version_published); every change moves the version\'s and the ' +
      'connector\'s updatedAt. Linked definitions are given by id or name and must exist in the version (400 ' +
      'unknown_definition). `errors` is the validation result (JSON pointers), recomputed on every read.'

    app.route({
      method: 'GET',
      url: base,
      schema: {
        operationId: `Get${k.title}s`,
        summary: `List the ${k.plural} of a version (creation order), filtered by name`,
        tags,
        params: VersionParams,
        querystring: ContentListQuery,
        response: { 200: k.page, ...errorResponses },
      },
      handler: async (request) => {
        const params = request.params as VersionParamsValue
        const query = request.query as ContentListQuery
        const { items, pageInfo } = await content.listOperations(registry, request.principal, contentTargetOf(request, params), k.kind, query)
        return { ...pageInfo, [k.plural]: items }
      },
    })

    app.route({
      method: 'POST',
      url: base,
      config: { idempotent: true },
      schema: {
        operationId: `Create${k.title}`,
        summary: `Create ${k.what}`,
        description: `Only type "http" is supported (others 400 unsupported_type). ${rules}`,
        tags,
        params: VersionParams,
        headers: IdempotencyHeaders,
        body: k.create,
        response: { 201: k.item, ...errorResponses },
      },
      handler: async (request, reply) => {
        const params = request.params as VersionParamsValue
        const created = await content.createOperation(
          registry,
          request.principal,
          contentTargetOf(request, params),
          k.kind,
          request.body as OperationInput,
        )
        return reply.code(201).send(created)
      },
    })

    app.route({
      method: 'GET',
      url: `${base}/:${k.nameParam}`,
      schema: {
        operationId: `Get${k.title}`,
        summary: `Get one ${k.kind} by name`,
        tags,
        params: ItemParams,
        response: { 200: k.item, ...errorResponses },
      },
      handler: async (request) => {
        const params = request.params as VersionParamsValue & Record<string, string>
        return content.getOperation(registry, request.principal, contentTargetOf(request, params), k.kind, params[k.nameParam]!)
      },
    })

    app.route({
      method: 'PUT',
      url: `${base}/:${k.nameParam}`,
      schema: {
        operationId: `Update${k.title}`,
        summary: `Replace a ${k.kind} (the name may change)`,
        description: `The body is the ${k.kind} as read: id is read-only, errors is ignored. ${rules}`,
        tags,
        params: ItemParams,
        body: k.update,
        response: { 200: k.item, ...errorResponses },
      },
      handler: async (request) => {
        const params = request.params as VersionParamsValue & Record<string, string>
        return content.updateOperation(
          registry,
          request.principal,
          contentTargetOf(request, params),
          k.kind,
          params[k.nameParam]!,
          request.body as OperationInput,
        )
      },
    })

    app.route({
      method: 'DELETE',
      url: `${base}/:${k.nameParam}`,
      schema: {
        operationId: `Delete${k.title}`,
        summary: `Delete a ${k.kind}`,
        tags,
        params: ItemParams,
        response: { 204: NoContent, ...errorResponses },
      },
      handler: async (request, reply) => {
        const params = request.params as VersionParamsValue & Record<string, string>
        await content.deleteOperation(registry, request.principal, contentTargetOf(request, params), k.kind, params[k.nameParam]!)
        return reply.code(204).send(null)
      },
    })
  }
}
