/** Errors the store raises that callers act on; anything else is an internal error. */
export type StoreErrorCode = 'exists' | 'notFound' | 'inUse' | 'invalid' | 'overQuota' | 'unavailable';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
