// cairn snapshot rm VOLUME NAME

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const snapshotRm: Command = {
  words: ['snapshot', 'rm'], params: 'VOLUME NAME', summary: 'delete a snapshot (its objects are reclaimed later)', minArgs: 2, maxArgs: 2,
  async run({ client, out, args }) {
    await client.delete(`/v1/volumes/${enc(args[0]!)}/snapshots/${enc(args[1]!)}`);
    if (out.json) out.value({ volume: args[0], snapshot: args[1], deleted: true });
    else out.line(`snapshot ${args[1]} of ${args[0]} deleted`);
    return EXIT.OK;
  },
};
