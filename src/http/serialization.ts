import type { FastifyReply } from 'fastify'

export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/

/**
 * fast-json-stringify options for every response serialiser (Fastify's and the cached
 * representations'). Unions are told apart by validating with its own Ajv: teach it `ulid` too.
 */
export const SERIALIZER_OPTIONS = { ajv: { formats: { ulid: ULID_PATTERN } } }

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Sends a body that is already serialised JSON (a cached representation). Fastify passes a
 * buffer or a string with a JSON content type through unchanged; the route's response schema
 * still documents the shape, and the contract tests check the bytes against it.
 */
export function sendSerialized(reply: { type(contentType: string): unknown }, json: Buffer | string): FastifyReply {
  return (reply.type(JSON_TYPE) as FastifyReply).send(json)
}
