// @cairn/errors — the coded errors every Cairn layer throws and maps once.
export { ERRNO, errnoName, errnoNumber, type ErrnoName } from './errno.js';
export { ERROR_CODES, RETIRED_CODES, type CairnErrorCode, type ErrorDefinition } from './codes.js';
export { CairnError, cairnError, isCairnError, isRetryable, toCairnError, type CairnErrorOptions } from './error.js';
