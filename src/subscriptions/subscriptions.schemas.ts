import Type, { type Static } from 'typebox'
import { ConnectorParams, PageInfoProperties, PageQuery } from '../http/schemas.ts'

/**
 * Extension (not in the reference contract): other products subscribe to the connector
 * version they use, so it cannot be unpublished or deleted from under them.
 */
export const SUBSCRIBER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$'

export const SubscriptionParams = Type.Object({
  ...ConnectorParams.properties,
  subscriber: Type.String({
    pattern: SUBSCRIBER_PATTERN,
    description: 'Who subscribes, e.g. "billing-service": 1-128 of A-Z a-z 0-9 . _ : @ - (starting alphanumeric).',
  }),
})

export const SubscriptionBodySchema = Type.Object(
  {
    version: Type.String({
      minLength: 1,
      maxLength: 1024,
      description:
        'The version used: a name (followed through renames) or the alias "latest" / "default" (whatever version it ' +
        'resolves to at the time is protected).',
    }),
  },
  { additionalProperties: false },
)
export type SubscriptionBody = Static<typeof SubscriptionBodySchema>

export const SubscriptionSchema = Type.Object({
  subscriber: Type.String(),
  version: Type.String({ description: 'The alias subscribed to, or the current name of the version subscribed to.' }),
  resolvedVersion: Type.Union(
    [Type.Object({ id: Type.String({ format: 'ulid' }), name: Type.String() }), Type.Null()],
    { description: 'The version the subscription protects now; null when its alias resolves to none.' },
  ),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})
export type Subscription = Static<typeof SubscriptionSchema>

export const SubscriptionPageSchema = Type.Object({ ...PageInfoProperties, subscriptions: Type.Array(SubscriptionSchema) })
export const SubscriptionListQuery = Type.Object(PageQuery)
