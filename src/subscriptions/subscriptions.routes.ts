import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ConnectorParams, errorResponses } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import {
  SubscriptionBodySchema,
  SubscriptionListQuery,
  SubscriptionPageSchema,
  SubscriptionParams,
  SubscriptionSchema,
} from './subscriptions.schemas.ts'
import * as subscriptions from './subscriptions.service.ts'

const tags = ['subscriptions']
const NoContent = Type.Null({ description: 'No Content' })
const EXTENSION =
  'Extension (not in the Versori Connect API): subscribers are other products using a connector version. While a ' +
  'subscription protects a version, UnpublishConnector of it is 409 version_subscribed, DeleteConnectorVersion of it ' +
  'is 409 version_subscribed and DeleteConnector is 409 connector_subscribed (both unless force=true); the error ' +
  '`details` lists the subscribers, comma-separated.'

function targetOf(params: { organisation_id: string; connector_id: string }): subscriptions.SubscriptionTarget {
  return { organisationId: params.organisation_id, connectorId: params.connector_id }
}

export const subscriptionRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  app.route({
    method: 'GET',
    url: '/o/:organisation_id/connectors/:connector_id/subscriptions',
    schema: {
      operationId: 'ListConnectorSubscriptions',
      summary: 'List who subscribes to versions of a connector (by subscriber)',
      description: EXTENSION,
      tags,
      params: ConnectorParams,
      querystring: SubscriptionListQuery,
      response: { 200: SubscriptionPageSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { items, pageInfo } = await subscriptions.listSubscriptions(registry, request.principal, targetOf(request.params), request.query)
      return { ...pageInfo, subscriptions: items }
    },
  })

  app.route({
    method: 'PUT',
    url: '/o/:organisation_id/connectors/:connector_id/subscriptions/:subscriber',
    schema: {
      operationId: 'PutConnectorSubscription',
      summary: 'Subscribe to a version (name, latest or default); 201 when new, 200 when changed',
      description: `${EXTENSION} A version name that does not exist, or an alias resolving to none, is 400 unknown_version.`,
      tags,
      params: SubscriptionParams,
      body: SubscriptionBodySchema,
      response: { 200: SubscriptionSchema, 201: SubscriptionSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const { subscription, created } = await subscriptions.putSubscription(
        registry,
        request.principal,
        targetOf(request.params),
        request.params.subscriber,
        request.body,
      )
      return reply.code(created ? 201 : 200).send(subscription)
    },
  })

  app.route({
    method: 'DELETE',
    url: '/o/:organisation_id/connectors/:connector_id/subscriptions/:subscriber',
    schema: {
      operationId: 'DeleteConnectorSubscription',
      summary: 'Unsubscribe',
      description: `${EXTENSION} 404 subscription_not_found when the subscriber has none.`,
      tags,
      params: SubscriptionParams,
      response: { 204: NoContent, ...errorResponses },
    },
    handler: async (request, reply) => {
      await subscriptions.deleteSubscription(registry, request.principal, targetOf(request.params), request.params.subscriber)
      return reply.code(204).send(null)
    },
  })
}
