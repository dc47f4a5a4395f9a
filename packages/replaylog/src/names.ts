// File naming of the replay log: the only place that builds or parses the
// names of log files. A log file is named by the LSN of its first record as 16
// lower-case hex digits, so that names sort in LSN order:
//   0000000000000001.rlog
// A file is first written under a temporary name (`<name>.tmp`) and renamed
// into place once its header is durable, so a named file always has a
// complete header.

import { cairnError } from '@cairn/errors';

const NAME_RE = /^([0-9a-f]{16})\.rlog$/;
const TMP_RE = /^[0-9a-f]{16}\.rlog\.tmp$/;

/** The name of the log file whose first record has `firstLsn`. */
export function logFileName(firstLsn: bigint): string {
  if (firstLsn < 0n || firstLsn > 0xffff_ffff_ffff_ffffn) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `lsn ${firstLsn} out of range`);
  return `${firstLsn.toString(16).padStart(16, '0')}.rlog`;
}

/** The temporary name under which a new log file is prepared. */
export function tempFileName(firstLsn: bigint): string {
  return `${logFileName(firstLsn)}.tmp`;
}

/** The first LSN encoded in a log file name, or undefined if `name` is not a log file. */
export function parseLogFileName(name: string): bigint | undefined {
  const m = NAME_RE.exec(name);
  return m ? BigInt(`0x${m[1]!}`) : undefined;
}

/** True for a leftover temporary file (a creation that did not finish). */
export function isTempFileName(name: string): boolean {
  return TMP_RE.test(name);
}
