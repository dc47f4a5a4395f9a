// The job kinds cairnd offers, bound to the served volume's filesystem: the
// filesystem's own fsck (params.repair: fix what it can) / scrub / clean /
// orphan sweep when it has them, else the
// daemon's fallbacks (namespace walk, reading every file, deleting dead
// segments). Orphan sweeping needs the filesystem's knowledge of segments and
// has no fallback.

import { cairnError } from '@cairn/errors';
import type { Filesystem } from '@cairn/inode';
import type { JobContext, JobKind, JobRunner } from '@cairn/mgmt';
import { extrasOf, inodeFsck } from '../apis/filesystem.js';
import type { ServedVolume } from '../lifecycle.js';
import { fsckNamespace, scrubFiles } from './walk.js';

export type VolumeLookup = (name: string) => ServedVolume | undefined;

function servedFs(lookup: VolumeLookup, name: string): { v: ServedVolume; fs: Filesystem } {
  const v = lookup(name);
  if (!v?.fs) throw cairnError('CAIRN_ERR_MGMT_NOT_SERVED', name);
  return { v, fs: v.fs };
}

const hooks = (ctx: JobContext) => ({ signal: ctx.signal, onProgress: (p: Parameters<JobContext['progress']>[0]) => ctx.progress(p) });

export function jobRunners(lookup: VolumeLookup): Record<JobKind, JobRunner> {
  return {
    fsck: async (ctx) => {
      const { fs } = servedFs(lookup, ctx.volume);
      const own = inodeFsck();
      if (own) return own(fs, hooks(ctx), ctx.params['repair'] === true);
      const method = extrasOf(fs).fsck;
      return method ? method(hooks(ctx)) : fsckNamespace(fs, ctx);
    },
    scrub: async (ctx) => {
      const { fs } = servedFs(lookup, ctx.volume);
      const own = extrasOf(fs).scrub;
      return own ? own(hooks(ctx)) : scrubFiles(fs, ctx);
    },
    clean: async (ctx) => {
      const { v, fs } = servedFs(lookup, ctx.volume);
      if (v.deletionsPaused) throw cairnError('CAIRN_ERR_MGMT_VOLUME_BUSY', `${ctx.volume}: deletions are paused`);
      const own = extrasOf(fs).clean;
      // A cleaning pass that ran to its end succeeded; its report says what it moved.
      if (own) return { ok: true, ...(await own(hooks(ctx))) };
      ctx.progress({ done: 0, total: 1, unit: 'passes' });
      const r = await fs.reclaimSegments();
      ctx.progress({ done: 1, total: 1, unit: 'passes' });
      return { ok: true, cleaner: 'dead-segment deletion', deletedSegments: r.deleted, waitingSegments: r.waiting };
    },
    'orphan-sweep': async (ctx) => {
      const { v, fs } = servedFs(lookup, ctx.volume);
      if (v.deletionsPaused) throw cairnError('CAIRN_ERR_MGMT_VOLUME_BUSY', `${ctx.volume}: deletions are paused`);
      const own = extrasOf(fs).sweepOrphans;
      if (!own) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'orphan-sweep (the filesystem layer does not offer it yet)');
      return { ok: true, ...(await own(hooks(ctx))) };
    },
  };
}
