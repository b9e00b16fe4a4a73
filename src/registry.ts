import type { Db } from './db/database.ts'
import type { SummaryCache } from './content/summary-cache.ts'
import type { CursorCodec } from './http/pagination.ts'

/** What every service needs: the database, the cursor codec keyed by the shared secret, caches. */
export interface Registry {
  db: Db
  cursors: CursorCodec
  /** Validation summaries of versions' content by revision (GetConnectorVersion's messages). */
  summaries: SummaryCache
}
