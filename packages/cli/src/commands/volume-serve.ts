// cairn volume serve NAME [--force] — takes ownership of a volume and serves it.

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const volumeServe: Command = {
  words: ['volume', 'serve'], params: 'NAME', summary: 'take ownership and serve (--force: take over from a daemon known to be down)',
  minArgs: 1, maxArgs: 1, options: { force: { type: 'boolean' } },
  async run({ client, out, args, flags }) {
    const v = await client.post<{ name: string; owner?: string }>(`/v1/volumes/${enc(args[0]!)}/serve`, { force: flags['force'] === true });
    if (out.json) out.value(v);
    else out.line(`volume ${v.name} served by ${v.owner ?? 'this daemon'}`);
    return EXIT.OK;
  },
};
