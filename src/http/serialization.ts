export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/

/**
 * fast-json-stringify options for every response serialiser (Fastify's and the cached
 * representations'). Unions are told apart by validating with its own Ajv: teach it `ulid` too.
 */
export const SERIALIZER_OPTIONS = { ajv: { formats: { ulid: ULID_PATTERN } } }
