// Recovery: turns whatever a crash left in the log directory into a clean log
// that ends at its last good record. The steps, in order:
//
//  1. Create the directory if missing (syncing the parents of what was created).
//  2. Delete leftover temporary files (file creations that did not finish).
//  3. Take the log files in LSN order (names.ts). For each one:
//     a. Check the header: a bad magic or version is an error in any file; a
//        short, zeroed or checksum-failing header is an error in any file but the
//        newest, whose header is rewritten from its name (reported as torn).
//     b. Check that the file continues the previous one (firstLsn = previous
//        lastLsn + 1), unless its header says every earlier record was already
//        covered by a checkpoint (coveredThrough >= firstLsn - 1; a discard that
//        jumped the LSN). Otherwise the file and all later ones are dropped.
//     c. Scan its records. Where they stop, an all-zero rest of the file is the
//        writer's zeros written ahead (preallocateBytes): the records end there
//        cleanly and the zeros stay. Otherwise that is the first torn or corrupt
//        record: truncate the file there, fsync it, drop every later file and stop.
//  4. Delete files (not the newest) that every header's coveredThrough covers:
//     the discard that made them obsolete did not finish.
//  5. Create the first file (firstLsn 1) if there is none.
//  6. Open the newest file for appending.
// Every torn point is reported once to onTorn and logged.

import { dirname, join } from 'node:path';
import { cairnError, isCairnError, type CairnErrorCode } from '@cairn/errors';
import type { Logger } from 'pino';
import { decodeFileHeader, encodeFileHeader, type FileHeaderProblem } from './codec.js';
import { createLogFile, LogFileState } from './files.js';
import { FILE_HEADER_SIZE, FIRST_LSN } from './format.js';
import { readFully, writeFully, type LogFile, type LogIo } from './io.js';
import { isTempFileName, parseLogFileName } from './names.js';
import { isZeroTail, scanRecords } from './reader.js';

export interface TornInfo {
  file: string;
  offset: number;
  reason: string;
  droppedBytes: number;
}

export interface RecoveryContext {
  readonly dir: string;
  readonly io: LogIo;
  readonly logger: Logger;
  readonly onTorn?: (info: TornInfo) => void;
}

export interface Recovered {
  /** The files kept, oldest first; the last is the one appends go to. */
  readonly files: LogFileState[];
  /** The newest file, open read-write. */
  readonly active: LogFile;
  /** The largest coveredThrough of any kept file header. */
  readonly coveredThrough: bigint;
}

interface Found {
  readonly name: string;
  readonly path: string;
  readonly lsn: bigint;
}

const HEADER_ERRORS: Record<FileHeaderProblem, CairnErrorCode> = {
  short: 'CAIRN_ERR_LOG_CORRUPT',
  zero: 'CAIRN_ERR_LOG_BAD_MAGIC',
  magic: 'CAIRN_ERR_LOG_BAD_MAGIC',
  version: 'CAIRN_ERR_LOG_BAD_VERSION',
  checksum: 'CAIRN_ERR_LOG_BAD_CHECKSUM',
};

/** Runs recovery (steps above). I/O failures become CAIRN_ERR_LOG_IO. */
export async function recoverLog(ctx: RecoveryContext): Promise<Recovered> {
  const open: LogFile[] = [];
  try {
    return await recover(ctx, open);
  } catch (err) {
    await Promise.all(open.map((f) => f.close().catch(() => undefined)));
    if (isCairnError(err)) throw err;
    throw cairnError('CAIRN_ERR_LOG_IO', `recovery of ${ctx.dir}: ${(err as Error).message}`, { cause: err });
  }
}

async function recover(ctx: RecoveryContext, open: LogFile[]): Promise<Recovered> {
  const { dir, io, logger } = ctx;

  // 1.
  for (const created of await io.mkdirs(dir)) await io.syncDir(dirname(created));

  // 2., 3.
  const names = await io.list(dir);
  const temps = names.filter(isTempFileName);
  for (const t of temps) await io.unlink(join(dir, t));
  if (temps.length > 0) await io.syncDir(dir);
  const found: Found[] = [];
  for (const name of names) {
    const lsn = parseLogFileName(name);
    if (lsn !== undefined) found.push({ name, path: join(dir, name), lsn });
  }
  found.sort((a, b) => (a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : 0));

  // kept[i] is open as open[i].
  const kept: LogFileState[] = [];
  let torn: TornInfo | undefined;
  const dropFrom = async (i: number): Promise<number> => {
    let bytes = 0;
    for (const f of found.slice(i)) {
      const file = await io.open(f.path, 'read');
      bytes += await file.size().finally(() => file.close());
      await io.unlink(f.path);
    }
    if (i < found.length) await io.syncDir(dir);
    return bytes;
  };

  for (let i = 0; i < found.length; i++) {
    const f = found[i]!;
    const newest = i === found.length - 1;
    const prev = kept[kept.length - 1];
    if (prev && f.lsn <= prev.lastLsn) {
      const reason = `file starts at lsn ${f.lsn} but the previous file ends at ${prev.lastLsn}`;
      torn = { file: f.name, offset: 0, reason, droppedBytes: await dropFrom(i) };
      break;
    }
    const file = await io.open(f.path, 'write');
    open.push(file);
    const size = await file.size();
    const head = Buffer.alloc(FILE_HEADER_SIZE);
    const got = await readFully(file, head, 0, FILE_HEADER_SIZE, 0);
    const h = decodeFileHeader(head.subarray(0, got));

    // 3a.
    if (!h.ok) {
      const fatal = h.problem === 'magic' || h.problem === 'version' || !newest;
      if (fatal) throw cairnError(HEADER_ERRORS[h.problem], `${f.path}: ${h.detail}`);
      // The newest file's header is damaged: rebuild it from the name, dropping the file's records.
      const covered = prev && prev.lastLsn + 1n === f.lsn ? prev.coveredThrough : f.lsn - 1n;
      await file.truncate(0);
      await writeFully(file, [encodeFileHeader(f.lsn, covered)], 0);
      await file.sync();
      torn = { file: f.name, offset: 0, reason: `bad file header (${h.detail})`, droppedBytes: size };
      kept.push(new LogFileState(f.name, f.path, f.lsn, covered));
      break;
    }
    const { firstLsn, coveredThrough } = h.header;
    if (firstLsn !== f.lsn) {
      throw cairnError('CAIRN_ERR_LOG_CORRUPT', `${f.path}: header says first lsn ${firstLsn}, the name ${f.lsn}`);
    }

    // 3b.
    if (prev && firstLsn !== prev.lastLsn + 1n && coveredThrough < firstLsn - 1n) {
      open.pop();
      await file.close();
      torn = {
        file: f.name,
        offset: 0,
        reason: `file starts at lsn ${firstLsn} but the previous file ends at ${prev.lastLsn}`,
        droppedBytes: await dropFrom(i),
      };
      break;
    }

    // 3c.
    const state = new LogFileState(f.name, f.path, firstLsn, coveredThrough);
    const scan = scanRecords(file, FILE_HEADER_SIZE, size, firstLsn);
    let r = await scan.next();
    while (!r.done) {
      state.advance(r.value.lsn, r.value.offset + r.value.size);
      r = await scan.next();
    }
    const end = r.value;
    state.advance(end.lastLsn, end.end);
    kept.push(state);
    if (end.torn && !(await isZeroTail(file, end.torn.offset, size))) {
      await file.truncate(end.torn.offset);
      await file.sync();
      const later = await dropFrom(i + 1);
      torn = { file: f.name, offset: end.torn.offset, reason: end.torn.reason, droppedBytes: size - end.torn.offset + later };
      break;
    }
  }

  if (torn) {
    logger.warn({ dir, ...torn }, 'replay log: dropped a torn or corrupt tail');
    ctx.onTorn?.(torn);
  }

  // 4.
  const covered = kept.reduce((m, s) => (s.coveredThrough > m ? s.coveredThrough : m), 0n);
  let obsolete = 0;
  while (kept.length - obsolete > 1 && kept[obsolete]!.lastLsn <= covered) obsolete++;
  if (obsolete > 0) {
    const gone = kept.splice(0, obsolete);
    for (const [j, file] of open.splice(0, obsolete).entries()) {
      await file.close();
      await io.unlink(gone[j]!.path);
    }
    await io.syncDir(dir);
    logger.info({ dir, files: obsolete, coveredThrough: String(covered) }, 'replay log: deleted files a checkpoint covers');
  }

  // Only the newest file stays open.
  while (open.length > 1) await open.shift()!.close();

  // 5.
  if (kept.length === 0) {
    const created = await createLogFile(io, dir, FIRST_LSN, FIRST_LSN - 1n);
    open.push(created.file);
    return { files: [created.state], active: created.file, coveredThrough: 0n };
  }
  // 6.
  return { files: kept, active: open[0]!, coveredThrough: covered };
}
