// cairn snapshot create VOLUME NAME

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const snapshotCreate: Command = {
  words: ['snapshot', 'create'], params: 'VOLUME NAME', summary: 'snapshot a volume as of now', minArgs: 2, maxArgs: 2,
  async run({ client, out, args }) {
    const s = await client.post<{ name: string; createdAt: string }>(`/v1/volumes/${enc(args[0]!)}/snapshots`, { name: args[1] });
    if (out.json) out.value(s);
    else out.line(`snapshot ${s.name} of ${args[0]} created at ${s.createdAt}`);
    return EXIT.OK;
  },
};
