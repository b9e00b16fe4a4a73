/**
 * Who is acting. Every authentication method (API key today; JWT, session cookie) turns its
 * credentials into one of these, and services decide access from it alone.
 */
export type Scope = 'read' | 'write'

export interface Principal {
  /** How the caller authenticated: an API key, a JWT as Bearer token, or the JWT in the session cookie. */
  method: 'api-key' | 'jwt' | 'cookie'
  /** Stable identifier of the actor, for logs and audit: the API key id, or a JWT `sub`. */
  subject: string
  /** Organisations the principal may act on; '*' for all. */
  organisations: readonly string[] | '*'
  scope: Scope
}

export function canActOn(principal: Principal, organisationId: string): boolean {
  return principal.organisations === '*' || principal.organisations.includes(organisationId)
}
