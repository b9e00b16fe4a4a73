import Type, { type Static, type TSchema } from 'typebox'
import { MessageSchema } from '../http/schemas.ts'

/**
 * AuthSchemeConfig: how a connector authenticates against its external system (configuration
 * only; credentials are out of scope). A discriminated union on `schemeType`, validated strictly.
 */
const base = {
  id: Type.String({ format: 'ulid', description: 'Client-generated ULID, unique within the array.' }),
  description: Type.String({ maxLength: 1024 }),
  validationMessages: Type.Optional(Type.Array(MessageSchema, { description: 'Ignored when sent.' })),
}

function variant<S extends string, P extends Record<string, TSchema>>(schemeType: S, props: P) {
  return Type.Object({ ...base, schemeType: Type.Literal(schemeType), ...props }, { additionalProperties: false })
}

const placement = Type.Union([Type.Literal('query'), Type.Literal('header'), Type.Literal('cookie')])
const url = Type.String({ format: 'uri', maxLength: 2048 })
const ulidOpt = Type.Optional(Type.String({ format: 'ulid' }))

const OAuth2Scope = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 256 }), description: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
)

const grantProps = {
  credentialId: ulidOpt,
  organisationId: ulidOpt,
  clientId: Type.Optional(Type.String({ maxLength: 1024 })),
  // Accepted for compatibility, never stored or returned: credentials are out of scope.
  clientSecret: Type.Optional(Type.String({ maxLength: 4096, writeOnly: true })),
}

const OAuth2Grant = Type.Unsafe<
  | { grantType: 'authorization_code' | 'password'; credentialId?: string; organisationId?: string; clientId?: string; clientSecret?: string }
  | { grantType: 'client_credentials' }
>({
  type: 'object',
  discriminator: { propertyName: 'grantType' },
  required: ['grantType'],
  oneOf: [
    Type.Object({ grantType: Type.Literal('authorization_code'), ...grantProps }, { additionalProperties: false }),
    Type.Object({ grantType: Type.Literal('client_credentials') }, { additionalProperties: false }),
    Type.Object({ grantType: Type.Literal('password'), ...grantProps }, { additionalProperties: false }),
  ],
})

export const AuthSchemeConfigNone = variant('none', {})
export const AuthSchemeConfigApiKey = variant('api-key', { name: Type.String({ minLength: 1, maxLength: 256 }), in: placement })
export const AuthSchemeConfigBasicAuth = variant('basic-auth', {})
export const AuthSchemeConfigOAuth2 = variant('oauth2', {
  authorizeUrl: url,
  tokenUrl: url,
  scopes: Type.Array(OAuth2Scope, { maxItems: 256 }),
  defaultScopes: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256 }),
  additionalAuthorizeParams: Type.Optional(Type.String({ maxLength: 4096 })),
  additionalTokenParams: Type.Optional(Type.String({ maxLength: 4096 })),
  mtlsEnabled: Type.Optional(Type.Boolean()),
  mtlsCredentialId: Type.Optional(Type.String({ maxLength: 64 })),
  grant: OAuth2Grant,
})
export const AuthSchemeConfigHmac = variant('hmac', {
  name: Type.String({ minLength: 1, maxLength: 256 }),
  in: placement,
  algorithm: Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')]),
  digestInputs: Type.Array(Type.Union([Type.Literal('body'), Type.Literal('url')]), { maxItems: 2 }),
})
export const AuthSchemeConfigCertificate = variant('certificate', {})

const variants = [
  AuthSchemeConfigNone,
  AuthSchemeConfigApiKey,
  AuthSchemeConfigBasicAuth,
  AuthSchemeConfigOAuth2,
  AuthSchemeConfigHmac,
  AuthSchemeConfigCertificate,
]

type AnyVariant =
  | Static<typeof AuthSchemeConfigNone>
  | Static<typeof AuthSchemeConfigApiKey>
  | Static<typeof AuthSchemeConfigBasicAuth>
  | Static<typeof AuthSchemeConfigOAuth2>
  | Static<typeof AuthSchemeConfigHmac>
  | Static<typeof AuthSchemeConfigCertificate>

export const AuthSchemeConfigSchema = Type.Unsafe<AnyVariant>({
  type: 'object',
  description: 'How the connector authenticates with the external system, by schemeType.',
  discriminator: { propertyName: 'schemeType' },
  required: ['schemeType'],
  oneOf: variants,
})

export type AuthSchemeConfig = AnyVariant

/** What is stored and returned: no secrets, no client-sent validation messages. */
export function storableAuthSchemeConfig(config: AuthSchemeConfig): AuthSchemeConfig {
  const { validationMessages: _ignored, ...rest } = config
  if (rest.schemeType === 'oauth2' && 'clientSecret' in rest.grant) {
    const { clientSecret: _secret, ...grant } = rest.grant
    return { ...rest, grant }
  }
  return rest
}
