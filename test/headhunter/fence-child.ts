// Child process of fencing.test.ts: mounts the volume in CAIRN_FENCE_ROOT
// (fs object store, its own replay log in CAIRN_FENCE_LOG) and commits
// batches, checkpointing every 100 ms, until an operation fails. Lines:
//   open          mounted
//   A <n>         batch n acknowledged
//   fenced <msg>  an operation failed with CAIRN_ERR_META_FENCED (then exit 7)
//   error <msg>   any other failure (then exit 3)

import { createFsStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { isCairnError } from '../../packages/errors/src/index.js';
import { encodeKey, openVolume } from '../../packages/headhunter/src/index.js';

const root = process.env['CAIRN_FENCE_ROOT'];
const logDir = process.env['CAIRN_FENCE_LOG'];
if (!root || !logDir) throw new Error('CAIRN_FENCE_ROOT and CAIRN_FENCE_LOG must be set');
const tag = process.env['CAIRN_FENCE_TAG'] ?? 'a';

const store = createFsStore({ root });
const log = await openReplayLog({ dir: logDir });
const db = await openVolume({ container: store.container('vol'), log, checkpointIntervalMs: 100 });
process.stdout.write('open\n');
try {
  for (let n = 0; ; n++) {
    const v = Buffer.from(String(n));
    await db.batch([{ type: 'put', tree: 't', key: encodeKey([tag, n]), value: v }, { type: 'put', tree: 't', key: encodeKey([tag]), value: v }]);
    process.stdout.write(`A ${n}\n`);
    if (n % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
} catch (err) {
  if (isCairnError(err, 'CAIRN_ERR_META_FENCED')) {
    process.stdout.write(`fenced ${err.message}\n`);
    process.exit(7);
  }
  process.stdout.write(`error ${(err as Error).message}\n`);
  process.exit(3);
}
