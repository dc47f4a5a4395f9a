// cairn snapshot ls VOLUME

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

export const snapshotLs: Command = {
  words: ['snapshot', 'ls'], params: 'VOLUME', summary: 'list the snapshots of a volume', minArgs: 1, maxArgs: 1,
  async run({ client, out, args }) {
    const { snapshots } = await client.get<{ snapshots: Array<{ name: string; createdAt: string }> }>(`/v1/volumes/${enc(args[0]!)}/snapshots`);
    if (out.json) out.value(snapshots);
    else out.line(table(['NAME', 'CREATED'], snapshots.map((s) => [s.name, s.createdAt])));
    return EXIT.OK;
  },
};
