import { hash } from 'node:crypto'
import { ApiError } from './errors.ts'

/** A strong entity tag over a resource's representation (without per-request `messages`). */
export function etagOf(representation: unknown): string {
  // crypto.hash, the one-shot form, costs half of createHash().update().digest() per call.
  return `"${hash('sha256', JSON.stringify(representation), 'base64url').slice(0, 27)}"`
}

/**
 * The entity tag of a representation's gzip form: a different tag, as a strong validator must be
 * for different bytes (RFC 9110 §8.8.3), derived from the identity form's.
 */
export function gzipEtag(etag: string): string {
  return `${etag.slice(0, -1)}-gzip"`
}

/** Whether a tag a client holds names the current state, in either form (identity or gzip). */
function namesCurrent(tag: string, currentEtag: string): boolean {
  return tag === '*' || tag === currentEtag || tag === gzipEtag(currentEtag)
}

/**
 * RFC 9110 If-Match with strong comparison: `*` matches any current representation; weak tags
 * never match. The tag of the gzip form matches too: both name the same state of the resource.
 */
export function ifMatchSatisfied(ifMatch: string | undefined, currentEtag: string): boolean {
  if (ifMatch === undefined) return true
  const candidates = ifMatch.split(',').map((tag) => tag.trim()).filter(Boolean)
  return candidates.some((tag) => namesCurrent(tag, currentEtag))
}

export function assertIfMatch(ifMatch: string | undefined, currentEtag: string): void {
  if (!ifMatchSatisfied(ifMatch, currentEtag)) throw new ApiError('precondition_failed')
}

/**
 * If-None-Match for conditional GETs (weak comparison, as RFC 9110 prescribes). A client holding
 * the other form (identity or gzip) of the current state has it too: it gets a 304.
 */
export function ifNoneMatchHit(ifNoneMatch: string | undefined, currentEtag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => namesCurrent(tag, currentEtag))
}
