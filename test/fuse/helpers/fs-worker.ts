// A child process that runs fs-ops.ts for the FUSE differential test, so the
// test process (which serves the mount) never blocks on the mount itself.
//   parent -> { id, root, ops }      <- { id, results, tree }
// Exits when the parent goes away.

import { applyOps, snapshot, type FsOp } from './fs-ops.js';

interface Job {
  readonly id: number;
  readonly root: string;
  readonly ops: FsOp[];
}

process.umask(0o022);
process.on('message', (job: Job) => {
  void (async () => {
    try {
      const results = await applyOps(job.root, job.ops);
      const tree = await snapshot(job.root);
      process.send!({ id: job.id, results, tree });
    } catch (err) {
      process.send!({ id: job.id, error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
