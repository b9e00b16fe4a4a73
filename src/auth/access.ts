import { ApiError } from '../http/errors.ts'
import { canActOn, type Principal } from './principal.ts'

export type Access = 'read' | 'write'

/**
 * The access check every service runs first. A principal of another organisation gets the
 * same 403 whether or not the organisation exists, so the answer reveals nothing.
 */
export function authorize(principal: Principal, organisationId: string, access: Access): void {
  if (!canActOn(principal, organisationId)) throw new ApiError('forbidden')
  if (access === 'write' && principal.scope !== 'write') {
    throw new ApiError('forbidden', { message: 'These credentials are read-only.' })
  }
}
