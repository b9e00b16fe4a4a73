import type { Db } from './db/database.ts'
import type { CursorCodec } from './http/pagination.ts'

/** What every service needs: the database and the cursor codec keyed by the shared secret. */
export interface Registry {
  db: Db
  cursors: CursorCodec
}
