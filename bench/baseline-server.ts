import SQLite from 'better-sqlite3'
import Fastify from 'fastify'
import pg from 'pg'

/**
 * The baselines the scenarios are compared with: a bare Fastify server (no auth, no plugins,
 * no logic, no logging) on the same database and driver as the server under test.
 *   GET /constant       a constant ConnectorVersion-shaped JSON document
 *   GET /constant/:n    a constant JSON document of n bytes (the size of a response under test)
 *   GET /versions/:id   one primary-key SELECT of a version row
 *   PUT /versions/:id   one single-row UPDATE … RETURNING of the description
 * Environment: PORT, and DATABASE_URL (PostgreSQL, pool of DATABASE_POOL_MAX like the server)
 * or SQLITE_FILE (better-sqlite3 with the server's pragmas).
 */
interface Store {
  select(id: string): Promise<unknown>
  update(id: string, description: string): Promise<unknown>
}

function sqliteStore(file: string): Store {
  const db = new SQLite(file)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  db.pragma('synchronous = NORMAL')
  const select = db.prepare('select * from connector_versions where id = ?')
  const update = db.prepare('update connector_versions set description = ?, updated_at = ? where id = ? returning *')
  return {
    select: async (id) => select.get(id),
    // all(), not get(): get() stops at the returned row, before the statement completes, and
    // SQLite runs its WAL auto-checkpoint only when a statement completes. With get() this
    // baseline never checkpointed: its WAL grew by ~8 KB per update without bound (165 MB after
    // 20,000 updates), which slowed it down and left that WAL for the server measured next.
    update: async (id, description) => update.all(description, new Date().toISOString(), id)[0],
  }
}

function postgresStore(url: string, max: number): Store {
  const pool = new pg.Pool({ connectionString: url, max })
  pool.on('error', () => {})
  return {
    select: async (id) => (await pool.query('select * from connector_versions where id = $1', [id])).rows[0],
    update: async (id, description) =>
      (await pool.query('update connector_versions set description = $1, updated_at = $2 where id = $3 returning *', [
        description,
        new Date().toISOString(),
        id,
      ])).rows[0],
  }
}

const CONSTANT = {
  id: '01HZX3G9M2V8Q4J7T6B5N1K0PA',
  name: '1.42.0',
  description: 'Release 1.42.0 of connector 4242',
  isLatest: true,
  isDefault: true,
  createdAt: '2024-05-01T10:00:00.000Z',
  updatedAt: '2024-05-01T10:00:00.250Z',
  publishedAt: '2024-05-01T10:00:00.250Z',
  messages: [],
}

const store = process.env.DATABASE_URL
  ? postgresStore(process.env.DATABASE_URL, Number(process.env.DATABASE_POOL_MAX ?? 10))
  : sqliteStore(process.env.SQLITE_FILE ?? '')

const MAX_SIZED_BYTES = 4 * 1024 * 1024
const sized = new Map<number, Buffer>()

/** `{"padding":"xx…x"}` of exactly `bytes` bytes, built once per size: the body is constant. */
function sizedJson(bytes: number): Buffer {
  let body = sized.get(bytes)
  if (!body) {
    const frame = '{"padding":""}'
    body = Buffer.from(`{"padding":"${'x'.repeat(Math.max(0, bytes - frame.length))}"}`)
    sized.set(bytes, body)
  }
  return body
}

const app = Fastify({ logger: false })
app.get('/constant', async () => CONSTANT)
app.get<{ Params: { bytes: string } }>('/constant/:bytes', async (request, reply) => {
  const bytes = Number(request.params.bytes)
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_SIZED_BYTES) return reply.code(400).send({ code: 'bad_size' })
  return reply.type('application/json; charset=utf-8').send(sizedJson(bytes))
})
app.get<{ Params: { id: string } }>('/versions/:id', async (request, reply) => {
  const row = await store.select(request.params.id)
  return row ?? reply.code(404).send({ code: 'not_found' })
})
app.put<{ Params: { id: string }; Body: { description: string } }>('/versions/:id', async (request, reply) => {
  const row = await store.update(request.params.id, request.body.description)
  return row ?? reply.code(404).send({ code: 'not_found' })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
