import type { Db } from '../db/database.ts'
import { fieldPath } from '../http/error-handler.ts'
import { ApiError } from '../http/errors.ts'
import type { Message } from '../http/schemas.ts'
import type { Registry } from '../registry.ts'
import { ContentIndex, issueLine, summaryMessages, versionIssues, type VersionIssue } from './content-rules.ts'
import { copyContent, loadContent } from './content.repository.ts'

/**
 * What the version service needs from the content: its validation summary, the publish gate
 * and the deep copy behind CreateConnectorVersion's fromVersion. No access checks here: the
 * calling service has done them.
 */

export async function contentIssues(db: Db, versionId: string): Promise<VersionIssue[]> {
  return versionIssues(new ContentIndex(await loadContent(db, versionId)))
}

/**
 * The version's `messages`: a summary of its content's validation errors and warnings,
 * validated once per revision of the version.
 */
export async function contentMessages(registry: Registry, version: { id: string; revision: number }): Promise<Message[]> {
  const cached = registry.summaries.get(version.id, version.revision)
  if (cached) return cached
  const messages = summaryMessages(await contentIssues(registry.db, version.id))
  registry.summaries.set(version.id, version.revision, messages)
  return messages
}

const PLURAL = { definition: 'definitions', action: 'actions', trigger: 'triggers' } as const

/** PublishConnector's gate: 400 `version_invalid` listing every error; otherwise the warnings to report. */
export async function assertPublishable(db: Db, version: { id: string; name: string }): Promise<Message[]> {
  const issues = await contentIssues(db, version.id)
  const errors = issues.filter((i) => i.severity === 'error')
  if (errors.length > 0) {
    throw new ApiError('version_invalid', {
      message: `Version "${version.name}" has ${errors.length} validation error${errors.length === 1 ? '' : 's'} and cannot be published; fix them and publish again.`,
      fields: errors.map((e) => ({ field: fieldPath(e.field, `${PLURAL[e.kind]}.${e.name}`), message: e.message })),
      details: errors.map(issueLine).join('\n'),
    })
  }
  return summaryMessages(issues)
}

/** Deep copy of every definition, action, trigger and reference (new ids, same names). */
export async function copyVersionContent(tx: Db, fromVersionId: string, toVersionId: string): Promise<void> {
  await copyContent(tx, fromVersionId, toVersionId)
}
