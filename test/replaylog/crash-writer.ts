// Child process of crash.test.ts: appends records to the replay log in
// CAIRN_CRASH_DIR from many concurrent writers until it is killed. It reports
// on stdout, one line per event, and only after the event happened:
//   open <nextLsn>            the log is open (recovery finished)
//   ack <lsn> <sha256>        append(lsn) was acknowledged (durable)
//   discarding <lsn>          about to call discardThrough(lsn) (printed first,
//                             so the parent knows records <= lsn may be gone)
// stdout to a pipe is written synchronously on Linux, so a line printed before
// SIGKILL reaches the parent.

import { createHash, randomBytes } from 'node:crypto';
import { openReplayLog } from '../../packages/replaylog/src/index.js';

const dir = process.env['CAIRN_CRASH_DIR'];
if (!dir) throw new Error('CAIRN_CRASH_DIR is not set');
const writers = Number(process.env['CAIRN_CRASH_WRITERS'] ?? '32');
const rotateBytes = Number(process.env['CAIRN_CRASH_ROTATE_BYTES'] ?? String(256 * 1024));

const log = await openReplayLog({ dir, rotateBytes });
process.stdout.write(`open ${log.nextLsn}\n`);

let acked = 0;
let maxAcked = 0n;
let discarding = false;

async function writer(id: number): Promise<void> {
  for (;;) {
    const payload = randomBytes(1 + Math.floor(Math.random() * 3000));
    payload[0] = id & 0xff;
    const lsn = await log.append(payload);
    process.stdout.write(`ack ${lsn} ${createHash('sha256').update(payload).digest('hex').slice(0, 32)}\n`);
    if (lsn > maxAcked) maxAcked = lsn;
    if (++acked % 500 === 0 && !discarding && maxAcked > 200n) {
      // A checkpoint covering all but the newest records.
      discarding = true;
      const through = maxAcked - 200n;
      process.stdout.write(`discarding ${through}\n`);
      await log.discardThrough(through);
      discarding = false;
    }
  }
}

await Promise.all(Array.from({ length: writers }, (_, i) => writer(i)));
