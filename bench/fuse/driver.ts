// The workload of bench/fuse/throughput.ts, run in its own process against one
// directory (a FUSE mount, or the local disk) with plain synchronous system
// calls, as a program would: the process that serves a FUSE mount must not be
// the one that blocks on it. Several drivers may work on one directory at
// once (each on names of its own), as the processes of `make -j` would.
//
// Forked with an IPC channel; argv[2] is JSON { dir, prefix, files, seqMiB,
// maxSeconds, directRead }. The parent sends { phase } and the driver answers
// { phase, ops, seconds, bytes } when the phase is done, so that the parent
// can read its counters between phases. Phases:
//
//   create  open(O_CREAT|O_EXCL) + close of `files` empty files
//   stat    stat of each
//   unlink  unlink of each (files a capped phase left are removed untimed)
//   write   `seqMiB` MiB in 1 MiB write(2)s of random bytes, then fsync
//   read    the file back in 1 MiB read(2)s (with directRead, `dd
//           iflag=direct`, so the local disk is measured, not its page
//           cache), then unlinks it
//
// Every phase also stops after maxSeconds.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface Job {
  readonly dir: string;
  readonly prefix: string;
  readonly files: number;
  readonly seqMiB: number;
  readonly maxSeconds: number;
  readonly directRead: boolean;
}

export type Phase = 'create' | 'stat' | 'unlink' | 'write' | 'read';

export interface PhaseResult {
  readonly phase: Phase;
  /** Operations done (files, or MiB for write/read). */
  readonly ops: number;
  readonly seconds: number;
  readonly bytes: number;
}

const MiB = 1024 * 1024;

function timed(maxSeconds: number, count: number, step: (i: number) => void): { ops: number; seconds: number } {
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(maxSeconds * 1e9));
  let i = 0;
  for (; i < count; i++) {
    step(i);
    if ((i & 15) === 15 && process.hrtime.bigint() - start > limit) {
      i++;
      break;
    }
  }
  return { ops: i, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function main(): void {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  const name = (i: number): string => join(job.dir, `${job.prefix}${i}`);
  const big = join(job.dir, `${job.prefix}sequential.bin`);
  const block = randomBytes(MiB);
  let created = 0;
  let written = 0;

  const run = (phase: Phase): PhaseResult => {
    switch (phase) {
      case 'create': {
        const r = timed(job.maxSeconds, job.files, (i) => closeSync(openSync(name(i), 'wx', 0o644)));
        created = r.ops;
        return { phase, ...r, bytes: 0 };
      }
      case 'stat':
        return { phase, ...timed(job.maxSeconds, created, (i) => statSync(name(i))), bytes: 0 };
      case 'unlink': {
        const r = timed(job.maxSeconds, created, (i) => unlinkSync(name(i)));
        for (let i = r.ops; i < created; i++) unlinkSync(name(i));
        return { phase, ...r, bytes: 0 };
      }
      case 'write': {
        const fd = openSync(big, 'w', 0o644);
        const r = timed(job.maxSeconds, job.seqMiB, () => {
          block.writeUInt32LE(Math.random() * 0xffffffff, 0);
          writeSync(fd, block, 0, MiB);
        });
        const t = process.hrtime.bigint();
        fsyncSync(fd);
        closeSync(fd);
        written = r.ops;
        return { phase, ops: r.ops, seconds: r.seconds + seconds(t), bytes: r.ops * MiB };
      }
      case 'read': {
        const t = process.hrtime.bigint();
        let bytes = 0;
        if (job.directRead) {
          execFileSync('dd', [`if=${big}`, 'of=/dev/null', 'bs=1M', 'iflag=direct', 'status=none']);
          bytes = written * MiB;
        } else {
          const fd = openSync(big, 'r');
          for (let n = readSync(fd, block, 0, MiB, null); n > 0; n = readSync(fd, block, 0, MiB, null)) bytes += n;
          closeSync(fd);
        }
        const r = { phase, ops: bytes / MiB, seconds: seconds(t), bytes };
        unlinkSync(big);
        return r;
      }
    }
  };

  process.on('message', (msg: { phase?: Phase; exit?: boolean }) => {
    if (msg.exit || !msg.phase) {
      process.disconnect();
      return;
    }
    try {
      process.send!({ result: run(msg.phase) });
    } catch (err) {
      process.send!({ error: err instanceof Error ? err.message : String(err) });
    }
  });
  process.send!({ ready: true });
}

main();
