// The cairn command's exit codes: scripts may rely on them (docs/operations.md "CLI").

export const EXIT = {
  /** Done. */
  OK: 0,
  /** The daemon answered with an error not listed below, or the job failed. */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** No daemon found or it does not answer. */
  UNREACHABLE: 3,
  /** No valid token (401), or a read-only token tried a change (403). */
  AUTH: 4,
  /** No such volume, snapshot or job (404). */
  NOT_FOUND: 5,
  /** Conflict (409): already exists, already served, owned elsewhere, a job of that kind is running. */
  CONFLICT: 6,
  /** fsck or scrub finished and found problems. */
  PROBLEMS: 7,
  /** The job was canceled (Ctrl-C cancels it). */
  CANCELED: 8,
  /** The daemon does not support this yet (501). */
  NOT_SUPPORTED: 9,
} as const;

export function exitCodeOfStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 409) return EXIT.CONFLICT;
  if (status === 501) return EXIT.NOT_SUPPORTED;
  if (status === 400) return EXIT.USAGE;
  return EXIT.ERROR;
}
