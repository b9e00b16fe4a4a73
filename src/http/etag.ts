import { hash } from 'node:crypto'
import { ApiError } from './errors.ts'

/** A strong entity tag over a resource's representation (without per-request `messages`). */
export function etagOf(representation: unknown): string {
  // crypto.hash, the one-shot form, costs half of createHash().update().digest() per call.
  return `"${hash('sha256', JSON.stringify(representation), 'base64url').slice(0, 27)}"`
}

/** RFC 9110 If-Match with strong comparison: `*` matches any current representation; weak tags never match. */
export function ifMatchSatisfied(ifMatch: string | undefined, currentEtag: string): boolean {
  if (ifMatch === undefined) return true
  const candidates = ifMatch.split(',').map((tag) => tag.trim()).filter(Boolean)
  return candidates.some((tag) => tag === '*' || tag === currentEtag)
}

export function assertIfMatch(ifMatch: string | undefined, currentEtag: string): void {
  if (!ifMatchSatisfied(ifMatch, currentEtag)) throw new ApiError('precondition_failed')
}

/** If-None-Match for conditional GETs (weak comparison, as RFC 9110 prescribes). */
export function ifNoneMatchHit(ifNoneMatch: string | undefined, currentEtag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === currentEtag)
}
