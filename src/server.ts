import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { bootstrapIfFresh } from './bootstrap.ts'
import type { Config } from './config.ts'
import { openDatabase, sqliteFileIn } from './db/database.ts'
import { migrateToLatest } from './db/migrate.ts'

/** `serve`: open and migrate the database, bootstrap a fresh one, listen, close gracefully. */
export async function serve(config: Config): Promise<void> {
  const db = openDatabase({
    databaseUrl: config.databaseUrl,
    poolMax: config.databasePoolMax,
    sqliteFile: sqliteFileIn(config.dataDir),
    sqliteCacheMb: config.sqliteCacheMb,
  })
  if (config.migrateOnStart) await migrateToLatest(db)
  const app = await buildApp({
    db,
    security: config,
    representationCacheBytes: config.representationCacheMb * 2 ** 20,
    logger: { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
  })
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    await app.close()
    await db.close()
  })
  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const baseUrl = config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  app.log.info({ database: db.location }, `connector-registry listening on ${baseUrl}`)

  const fresh = await bootstrapIfFresh(db, config.dataDir)
  if (fresh) {
    process.stdout.write(
      [
        '',
        'A fresh database: created an organisation and an API key (shown once; also saved to',
        `${config.dataDir}/bootstrap.json with mode 0600).`,
        `  organisation id: ${fresh.organisationId}`,
        `  API key:         ${fresh.apiKey}`,
        `  API docs:        ${baseUrl}/docs`,
        '  try it:',
        `  curl -H 'Authorization: Bearer ${fresh.apiKey}' ${baseUrl}/o/${fresh.organisationId}/connectors`,
        '',
      ].join('\n') + '\n',
    )
  }
}
