// cairn volume unserve NAME — finishes in-flight work, publishes a final checkpoint, releases ownership.

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const volumeUnserve: Command = {
  words: ['volume', 'unserve'], params: 'NAME', summary: 'stop serving: flush, final checkpoint, release ownership', minArgs: 1, maxArgs: 1,
  async run({ client, out, args }) {
    const v = await client.post<{ name: string }>(`/v1/volumes/${enc(args[0]!)}/unserve`);
    if (out.json) out.value(v);
    else out.line(`volume ${v.name} unserved; ownership released`);
    return EXIT.OK;
  },
};
