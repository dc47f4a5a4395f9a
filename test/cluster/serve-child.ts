// Child process of two-process.test.ts: mounts the volume in a Swift container
// with the etcd-fenced publisher (its own replay log), retrying while its
// claim loses to the other process, then commits batches and checkpoints
// every 25 of them until fenced or told "stop" on stdin. Lines:
//   writer <token>   its publisher's writer token
//   open <seq>       mounted; <seq> is its claim checkpoint
//   A <n>            batch n acknowledged
//   C <seq>          checkpoint <seq> published
//   fenced <why>     the volume stopped serving (stats().stopped); exit 7
//   closed           unmounted after "stop"; exit 0
//   error <msg>      anything else; exit 3

import { createInterface } from 'node:readline';
import { isCairnError } from '../../packages/errors/src/index.js';
import { encodeKey, openVolume, type Headhunter } from '../../packages/headhunter/src/index.js';
import { createSwiftStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { connectEtcd, createEtcdPublisher } from '../../packages/cluster/src/index.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined || v === '') throw new Error(`${k} must be set`);
  return v;
};
const swift = JSON.parse(env('CAIRN_CL_SWIFT')) as { authUrl: string; user: string; key: string };
const tag = env('CAIRN_CL_TAG');
const say = (line: string): boolean => process.stdout.write(`${line}\n`);

let stopping = false;
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() === 'stop') stopping = true;
});

const store = createSwiftStore({ authUrl: swift.authUrl, user: swift.user, key: swift.key });
const client = connectEtcd({ endpoints: env('CAIRN_CL_ETCD').split(','), timeoutMs: 10_000 });
const container = store.container(env('CAIRN_CL_CONTAINER'));
const publisher = createEtcdPublisher({ container, client, prefix: env('CAIRN_CL_PREFIX') });
say(`writer ${publisher.writer}`);
const log = await openReplayLog({ dir: env('CAIRN_CL_LOG'), fsync: false });

let db: Headhunter | undefined;
try {
  for (let attempt = 0; db === undefined; attempt++) {
    try {
      db = await openVolume({ container, log, publisher, checkpointIntervalMs: 100, checkpointOnClose: true });
    } catch (err) {
      if (attempt >= 100 || !isCairnError(err, 'CAIRN_ERR_META_FENCED')) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  say(`open ${db.stats().checkpoint.seq}`);
  for (let n = 0; !stopping; n++) {
    const v = Buffer.from(String(n));
    await db.batch([{ type: 'put', tree: 't', key: encodeKey([tag, n]), value: v }, { type: 'put', tree: 't', key: encodeKey([tag]), value: v }]);
    say(`A ${n}`);
    if (n % 25 === 24) say(`C ${(await db.checkpoint()).seq}`);
  }
  await db.close();
  await log.close();
  say('closed');
  client.close();
  await store.close();
  process.exit(0);
} catch (err) {
  if (isCairnError(err, 'CAIRN_ERR_META_FENCED')) {
    say(`fenced ${db?.stats().stopped ?? err.message}`);
    process.exit(7);
  }
  say(`error ${(err as Error).stack ?? String(err)}`);
  process.exit(3);
}
