import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import YAML from 'yaml'

/**
 * Contract checks for every response the test suite produces: against the project's own
 * OpenAPI document (always) and against the reference contract in ../shared/reference when it
 * is present (skipped with a message otherwise).
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

const here = path.dirname(fileURLToPath(import.meta.url))
export const REFERENCE_FILE = path.resolve(here, '../../../shared/reference/connect-api-v1.openapi.yaml')

type OpenApi = { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>> }

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: false, validateFormats: true })
  addFormats(ajv)
  ajv.addFormat('ulid', /^[0-9A-HJKMNP-TV-Z]{26}$/)
  ajv.addKeyword({ keyword: 'discriminator' })
  return ajv
}

/** OpenAPI 3.0's `nullable: true` (which the reference still uses) as JSON Schema 2020-12. */
function normaliseNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normaliseNullable)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = normaliseNullable(v)
  if (out.nullable === true) {
    delete out.nullable
    if (typeof out.type === 'string') out.type = [out.type, 'null']
  }
  return out
}

export class ContractChecker {
  readonly #ajv = newAjv()
  readonly #validators = new Map<string, ValidateFunction | null>()
  readonly #operations = new Map<string, { responses: Record<string, unknown> }>()
  readonly #schemaId: string

  constructor(doc: OpenApi, schemaId: string) {
    this.#schemaId = schemaId
    this.#ajv.addSchema(normaliseNullable(doc) as object, schemaId)
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op && typeof op === 'object' && op.operationId) {
          this.#operations.set(op.operationId, { responses: op.responses ?? {} })
          void p
          void method
        }
      }
    }
  }

  hasOperation(operationId: string): boolean {
    return this.#operations.has(operationId)
  }

  /**
   * Returns the validation errors, or [] when the body conforms (or nothing is declared).
   * With `errorsFallBackToEnvelope`, an error status the operation does not declare at all (the
   * reference declares only 204 for DeleteConnector, say) is checked against the document's
   * `Error` schema instead.
   */
  check(operationId: string, status: number, body: unknown, errorsFallBackToEnvelope = false): string[] {
    const op = this.#operations.get(operationId)
    if (!op) return [`operation ${operationId} is not in the document`]
    const statusKey = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'].find((k) => k in op.responses)
    if (statusKey === undefined && errorsFallBackToEnvelope && status >= 400) {
      const validate = this.#ajv.getSchema(`${this.#schemaId}#/components/schemas/Error`)
      if (!validate) return ['the document has no Error schema']
      return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
    }
    if (statusKey === undefined) return [`status ${status} is not declared for ${operationId}`]
    const key = `${operationId} ${statusKey}`
    let validate = this.#validators.get(key)
    if (validate === undefined) {
      const response = op.responses[statusKey] as { content?: Record<string, { schema?: unknown }> }
      const hasSchema = response?.content?.['application/json']?.schema !== undefined
      validate = hasSchema
        ? this.#ajv.compile({
            $ref: `${this.#schemaId}#/paths/${this.#pointerOf(operationId)}/responses/${statusKey}/content/application~1json/schema`,
          })
        : null
      this.#validators.set(key, validate)
    }
    if (validate === null) return []
    if (validate(body)) return []
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
  }

  #pointerOf(operationId: string): string {
    const doc = this.#ajv.getSchema(this.#schemaId)!.schema as OpenApi
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op?.operationId === operationId) return `${p.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}`
      }
    }
    throw new Error(`no operation ${operationId}`)
  }
}

let reference: ContractChecker | null | undefined

/** The reference checker, or null (with one message) when ../shared/reference is absent. */
export function referenceChecker(): ContractChecker | null {
  if (reference !== undefined) return reference
  if (!fs.existsSync(REFERENCE_FILE)) {
    process.stderr.write(`# reference contract not found at ${REFERENCE_FILE}: skipping reference schema checks\n`)
    reference = null
    return reference
  }
  const doc = YAML.parse(fs.readFileSync(REFERENCE_FILE, 'utf8')) as OpenApi
  reference = new ContractChecker(doc, 'reference.json')
  return reference
}
