// cairn clean VOLUME — runs the clean job with a progress bar and prints its summary (Ctrl-C cancels it).

import type { Command } from '../command.js';
import { runJob } from '../jobs.js';

export const clean: Command = {
  words: ['clean'], params: 'VOLUME', summary: 'delete dead segments of a volume now', minArgs: 1, maxArgs: 1,
  run: (ctx) => runJob(ctx, 'clean', ctx.args[0]!),
};
