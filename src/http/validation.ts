import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { ULID_PATTERN } from './serialization.ts'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats ships CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const common: Options = {
  allErrors: true,
  useDefaults: true,
  // Properties a schema does not declare (additionalProperties: false) are dropped, never stored.
  removeAdditional: true,
  discriminator: true,
  strict: false,
}

function build(options: Options): Ajv {
  const ajv = new Ajv({ ...common, ...options })
  addFormats(ajv)
  ajv.addFormat('ulid', ULID_PATTERN)
  return ajv
}

// Query strings and path parameters arrive as text and are coerced ("20" -> 20); JSON bodies
// are typed already, so a wrong type there is the client's mistake and gets a 400.
const textAjv = build({ coerceTypes: 'array' })
const bodyAjv = build({ coerceTypes: false })

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv
  return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<object>>
}
