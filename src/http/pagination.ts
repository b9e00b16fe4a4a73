import { createHmac, hash, timingSafeEqual } from 'node:crypto'
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely'
import { ApiError } from './errors.ts'

/**
 * Keyset pagination with opaque, tamper-evident cursors.
 *
 * A cursor holds the sort-key values of one item plus a hash of the listing it came from
 * (resource, organisation, filters, sort), signed with HMAC-SHA256 under a secret kept in the
 * database so every replica accepts every other replica's cursors. An edited cursor or one
 * from another listing fails verification and is rejected with 400 `invalid_cursor`.
 */
export interface SortKey {
  column: string
  direction: 'asc' | 'desc'
}

export interface PageRequest {
  first: number
  after?: string | undefined
  before?: string | undefined
}

export interface PageInfo {
  totalCount: number
  next?: string
  prev?: string
}

/**
 * How many issued and verified cursors a codec remembers. A busy listing hands out the same `next`
 * cursor on every request for its first page; remembering it saves two SHA-256 hashes and an HMAC
 * per request (~20 µs), and a remembered cursor's verification is one lookup. Only cursors whose
 * text and listing scope together fit in REMEMBERED_CHARS are remembered (a filtered scope can be
 * kilobytes long), so both maps stay under ~4 MB whatever clients send.
 */
const REMEMBERED_CURSORS = 1024
const REMEMBERED_CHARS = 512

interface VerifiedCursor {
  scope: string
  values: readonly unknown[]
}

export class CursorCodec {
  readonly #secret: Buffer
  /** `scope NUL values-as-JSON` → the cursor issued for them. */
  readonly #issued = new Map<string, string>()
  /** Cursors issued or verified, with the listing and the values they name. */
  readonly #verified = new Map<string, VerifiedCursor>()

  constructor(secret: Buffer) {
    this.#secret = secret
  }

  encode(scope: string, values: readonly unknown[]): string {
    const json = JSON.stringify(values)
    const key = `${scope}\u0000${json}`
    let cursor = this.#issued.get(key)
    if (cursor === undefined) {
      const body = Buffer.from(`{"s":${JSON.stringify(scopeHash(scope))},"v":${json}}`).toString('base64url')
      cursor = `${body}.${this.#sign(body)}`
      if (fitsMemory(scope, cursor)) {
        remember(this.#issued, key, cursor)
        remember(this.#verified, cursor, { scope, values: Object.freeze(JSON.parse(json) as unknown[]) })
      }
    }
    return cursor
  }

  decode(scope: string, cursor: string): readonly unknown[] {
    const known = this.#verified.get(cursor)
    if (known !== undefined) {
      if (known.scope !== scope) throw new ApiError('invalid_cursor')
      return known.values
    }
    const [body, signature, extra] = cursor.split('.')
    if (!body || !signature || extra !== undefined) throw new ApiError('invalid_cursor')
    const expected = Buffer.from(this.#sign(body))
    const presented = Buffer.from(signature)
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
      throw new ApiError('invalid_cursor')
    }
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { s: string; v: unknown[] }
    if (payload.s !== scopeHash(scope) || !Array.isArray(payload.v)) throw new ApiError('invalid_cursor')
    const values = Object.freeze(payload.v)
    if (fitsMemory(scope, cursor)) remember(this.#verified, cursor, { scope, values })
    return values
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#secret).update(body).digest('base64url')
  }
}

function fitsMemory(scope: string, cursor: string): boolean {
  return scope.length + cursor.length <= REMEMBERED_CHARS
}

/** Sets `key`, first dropping the oldest entry when the map is full. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= REMEMBERED_CURSORS) map.delete(map.keys().next().value!)
  map.set(key, value)
}

function scopeHash(scope: string): string {
  return hash('sha256', scope, 'base64url').slice(0, 16)
}

type AnyEb = ExpressionBuilder<any, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Rows strictly after (`side = 'after'`) or before the position `values` in the order `keys`:
 * (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …, with comparisons flipped for descending keys.
 * The redundant bound k1 >= v1 in front lets the database seek to the cursor in an index leading
 * with k1; without it an OR is no index range, and each page scanned every row before the
 * cursor (SQLite) or every row after it, then sorted them (PostgreSQL).
 */
export function keysetCondition(
  eb: AnyEb,
  keys: readonly SortKey[],
  values: readonly unknown[],
  side: 'after' | 'before',
): Expression<SqlBool> {
  const branches = keys.map((key, i) => {
    const ascending = key.direction === 'asc'
    const op = (side === 'after') === ascending ? '>' : '<'
    const equalities = keys.slice(0, i).map((k, j) => eb(sql.ref(k.column), '=', values[j]))
    return eb.and([...equalities, eb(sql.ref(key.column), op, values[i])])
  })
  const first = keys[0]!
  const bound = eb(sql.ref(first.column), (side === 'after') === (first.direction === 'asc') ? '>=' : '<=', values[0])
  return eb.and([bound, eb.or(branches)])
}

export function reversed(keys: readonly SortKey[]): SortKey[] {
  return keys.map((k) => ({ column: k.column, direction: k.direction === 'asc' ? 'desc' : 'asc' }))
}

export interface Anchor {
  values: readonly unknown[]
  side: 'after' | 'before'
}

export interface KeysetSource<Row> {
  /** Sort keys; the last must be unique (the id), so the order is total. */
  keys: readonly SortKey[]
  /** Listing identity for cursor scoping (resource, owner, filters, sort). */
  scope: string
  /** Sort-key values of a row, in `keys` order, as stored. */
  valuesOf(row: Row): unknown[]
  /**
   * Rows matching the listing's filters and `condition`, ordered by `order`, at most `limit`.
   * `anchor` is what `condition` was built from (the cursor's values and the side), for sources
   * that prepare their queries (the condition's shape depends only on the side).
   */
  fetch(
    condition: ((eb: AnyEb) => Expression<SqlBool>) | undefined,
    order: readonly SortKey[],
    limit: number,
    anchor: Anchor | undefined,
  ): Promise<Row[]>
  count(): Promise<number>
  /**
   * The first page (in `keys` order, at most `limit` rows) and the total in one query, for
   * sources whose fetch visits every match anyway; paginate uses it instead of fetch + count.
   */
  fetchFirstCounted?(limit: number): Promise<{ rows: Row[]; total: number }>
}

export async function paginate<Row>(
  codec: CursorCodec,
  source: KeysetSource<Row>,
  page: PageRequest,
): Promise<{ rows: Row[]; pageInfo: PageInfo }> {
  if (page.after !== undefined && page.before !== undefined) {
    throw new ApiError('validation_failed', {
      message: 'Use either after or before, not both.',
      fields: [{ field: 'before', message: 'cannot be combined with after' }],
    })
  }
  const cursorValues = (cursor: string) => {
    const values = codec.decode(source.scope, cursor)
    if (values.length !== source.keys.length) throw new ApiError('invalid_cursor')
    return values
  }
  const { keys } = source
  const backward = page.before !== undefined
  const anchor = page.after ?? page.before
  const anchorValues = anchor === undefined ? undefined : cursorValues(anchor)
  const side = backward ? 'before' : 'after'
  const condition = anchorValues && ((eb: AnyEb) => keysetCondition(eb, keys, anchorValues, side))

  const { rows: fetched, total: totalCount } =
    anchorValues === undefined && source.fetchFirstCounted
      ? await source.fetchFirstCounted(page.first + 1)
      : await Promise.all([
          source.fetch(condition, backward ? reversed(keys) : keys, page.first + 1, anchorValues && { values: anchorValues, side }),
          source.count(),
        ]).then(([rows, total]) => ({ rows, total }))
  const hasMoreInDirection = fetched.length > page.first
  const rows = fetched.slice(0, page.first)
  if (backward) rows.reverse()

  const pageInfo: PageInfo = { totalCount }
  const first = rows[0]
  const last = rows[rows.length - 1]
  const cursorOf = (row: Row) => codec.encode(source.scope, source.valuesOf(row))
  // Going forward, more rows ahead means a next page; anything before the anchor means a previous one.
  const hasNext = backward ? anchorValues !== undefined : hasMoreInDirection
  const hasPrev = backward ? hasMoreInDirection : anchorValues !== undefined
  if (last && hasNext) pageInfo.next = cursorOf(last)
  if (first && hasPrev) pageInfo.prev = cursorOf(first)
  if (!first && anchor !== undefined) {
    // An empty page reached through a cursor still lets the client turn back.
    if (backward) pageInfo.next = anchor
    else pageInfo.prev = anchor
  }
  return { rows, pageInfo }
}
