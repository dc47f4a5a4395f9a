// cairn scrub VOLUME — runs the scrub job with a progress bar and prints its summary (Ctrl-C cancels it).

import type { Command } from '../command.js';
import { runJob } from '../jobs.js';

export const scrub: Command = {
  words: ['scrub'], params: 'VOLUME', summary: 'read every byte of every file of a volume (exit 7 when something cannot be read)', minArgs: 1, maxArgs: 1,
  run: (ctx) => runJob(ctx, 'scrub', ctx.args[0]!),
};
