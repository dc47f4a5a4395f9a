// cairn fsck VOLUME — runs the fsck job with a progress bar and prints its summary (Ctrl-C cancels it).

import type { Command } from '../command.js';
import { runJob } from '../jobs.js';

export const fsck: Command = {
  words: ['fsck'], params: 'VOLUME', summary: 'check the consistency of a volume (--repair: fix what can be fixed; exit 7 when problems remain)',
  minArgs: 1, maxArgs: 1, options: { repair: { type: 'boolean' } },
  run: (ctx) => runJob(ctx, 'fsck', ctx.args[0]!, ctx.flags['repair'] === true ? { repair: true } : {}),
};
