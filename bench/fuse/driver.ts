// The workload of bench/fuse/throughput.ts, run in its own process against one
// directory (a FUSE mount, or the local disk) with plain synchronous system
// calls, as a program would: the process that serves a FUSE mount must not be
// the one that blocks on it.
//
//   argv[2]: JSON { dir, files, seqMiB, maxSeconds, directRead }
//   stdout:  JSON { create, stat, unlink (ops/s), writeMBps, readMBps, ... }
//
// create: open(O_CREAT|O_EXCL) + close of `files` empty files; stat: stat of
// each; unlink: unlink of each; write: `seqMiB` MiB in 1 MiB write(2)s of
// random bytes, then fsync; read: the file back in 1 MiB read(2)s (with
// directRead, `dd iflag=direct`, so the local disk is measured rather than
// its page cache). Every phase also stops after maxSeconds.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface Job {
  readonly dir: string;
  readonly files: number;
  readonly seqMiB: number;
  readonly maxSeconds: number;
  readonly directRead: boolean;
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

function main(): void {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  const name = (i: number): string => join(job.dir, `f${i}`);
  const create = timed(job.maxSeconds, job.files, (i) => closeSync(openSync(name(i), 'wx', 0o644)));
  const stat = timed(job.maxSeconds, create.ops, (i) => statSync(name(i)));
  const unlink = timed(job.maxSeconds, create.ops, (i) => unlinkSync(name(i)));
  for (let i = unlink.ops; i < create.ops; i++) unlinkSync(name(i));

  const big = join(job.dir, 'sequential.bin');
  const block = randomBytes(MiB);
  const fd = openSync(big, 'w', 0o644);
  const write = timed(job.maxSeconds, job.seqMiB, () => {
    block.writeUInt32LE(Math.random() * 0xffffffff, 0);
    writeSync(fd, block, 0, MiB);
  });
  const t0 = process.hrtime.bigint();
  fsyncSync(fd);
  closeSync(fd);
  const writeSeconds = write.seconds + Number(process.hrtime.bigint() - t0) / 1e9;

  let read: { bytes: number; seconds: number };
  if (job.directRead) {
    const t = process.hrtime.bigint();
    execFileSync('dd', [`if=${big}`, 'of=/dev/null', 'bs=1M', 'iflag=direct', 'status=none']);
    read = { bytes: write.ops * MiB, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
  } else {
    const rfd = openSync(big, 'r');
    const t = process.hrtime.bigint();
    let bytes = 0;
    for (let n = readSync(rfd, block, 0, MiB, null); n > 0; n = readSync(rfd, block, 0, MiB, null)) bytes += n;
    closeSync(rfd);
    read = { bytes, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
  }
  unlinkSync(big);
  process.stdout.write(
    `${JSON.stringify({
      create: create.ops / create.seconds,
      stat: stat.ops / stat.seconds,
      unlink: unlink.ops / unlink.seconds,
      files: create.ops,
      writeMBps: (write.ops * MiB) / 1e6 / writeSeconds,
      readMBps: read.bytes / 1e6 / read.seconds,
      seqMiB: write.ops,
    })}\n`,
  );
}

main();
