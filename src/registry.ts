import type { Db } from './db/database.ts'
import type { ConnectorRepresentation } from './connectors/connector-json.ts'
import type { RevisionCache } from './db/revision-cache.ts'
import type { CursorCodec } from './http/pagination.ts'
import type { Message } from './http/schemas.ts'

/** What every service needs: the database, the cursor codec keyed by the shared secret, caches. */
export interface Registry {
  db: Db
  cursors: CursorCodec
  /** Validation summaries of versions' content by revision (GetConnectorVersion's messages). */
  summaries: RevisionCache<Message[]>
  /** Serialised connectors by connector revision and view (own / public catalogue). */
  connectors: RevisionCache<ConnectorRepresentation>
}
