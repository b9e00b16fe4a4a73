import type { Db } from './db/database.ts'
import type { RevisionCache } from './db/revision-cache.ts'
import type { CompressedForms } from './http/compression.ts'
import type { CursorCodec } from './http/pagination.ts'
import type { Representation } from './http/representation.ts'
import type { Message } from './http/schemas.ts'

/** What every service needs: the database, the cursor codec keyed by the shared secret, caches. */
export interface Registry {
  db: Db
  cursors: CursorCodec
  /** Validation summaries of versions' content by revision (GetConnectorVersion's messages). */
  summaries: RevisionCache<Message[]>
  /**
   * Response bodies of connector-scoped reads (a connector, its version pages, its versions) by
   * the connector's revision, which moves with every change any of them shows.
   */
  representations: RevisionCache<Representation>
  /** gzip forms of those bodies, compressed once each (for clients that accept gzip). */
  compressed: CompressedForms
}
