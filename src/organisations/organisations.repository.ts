import type { Db } from '../db/database.ts'
import { newId } from '../ids.ts'

export interface Organisation {
  id: string
  name: string
  createdAt: string
}

export async function insertOrganisation(db: Db, name: string): Promise<Organisation> {
  const row = await db.kysely
    .insertInto('organisations')
    .values({ id: newId(), name, created_at: db.dialect.now() })
    .returningAll()
    .executeTakeFirstOrThrow()
  return { id: row.id, name: row.name, createdAt: row.created_at }
}

export async function findOrganisation(db: Db, id: string): Promise<Organisation | undefined> {
  const row = await db.kysely.selectFrom('organisations').selectAll().where('id', '=', id).executeTakeFirst()
  return row && { id: row.id, name: row.name, createdAt: row.created_at }
}

export async function countOrganisations(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('organisations')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
