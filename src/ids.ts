import { monotonicFactory } from 'ulid'

/** ULIDs that increase even within one millisecond, so ids break ties in creation order. */
export const newId: () => string = monotonicFactory()

export const ULID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$'
