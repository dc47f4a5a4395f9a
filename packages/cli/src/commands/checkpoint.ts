// cairn checkpoint VOLUME [--list] — writes and publishes a checkpoint now (or lists recent ones).

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { bytes, table } from '../output.js';

interface Checkpoint { id: number; publishedAt?: string; bytes?: number }

export const checkpoint: Command = {
  words: ['checkpoint'], params: 'VOLUME', summary: 'checkpoint a volume now and print its id (--list: recent checkpoints)',
  minArgs: 1, maxArgs: 1, options: { list: { type: 'boolean' }, limit: { type: 'string' } },
  async run({ client, out, args, flags }) {
    const path = `/v1/volumes/${enc(args[0]!)}/checkpoints`;
    if (flags['list']) {
      const limit = typeof flags['limit'] === 'string' ? `?limit=${enc(flags['limit'])}` : '';
      const { checkpoints } = await client.get<{ checkpoints: Checkpoint[] }>(`${path}${limit}`);
      if (out.json) out.value(checkpoints);
      else out.line(table(['ID', 'PUBLISHED', 'SIZE'], checkpoints.map((c) => [c.id, c.publishedAt, c.bytes === undefined ? undefined : bytes(c.bytes)])));
      return EXIT.OK;
    }
    const c = await client.post<Checkpoint>(path);
    if (out.json) out.value(c);
    else out.line(`checkpoint ${c.id} published${c.publishedAt ? ` at ${c.publishedAt}` : ''}`);
    return EXIT.OK;
  },
};
