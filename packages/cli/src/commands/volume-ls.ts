// cairn volume ls — the volumes the daemon knows, and who serves them.

import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface Volume { name: string; served: boolean; owner?: string; volumeId?: string; readOnly: boolean; deletionsPaused: boolean; createdAt?: string }

export const volumeLs: Command = {
  words: ['volume', 'ls'], params: '', summary: 'list volumes', minArgs: 0, maxArgs: 0,
  async run({ client, out }) {
    const { volumes } = await client.get<{ volumes: Volume[] }>('/v1/volumes');
    if (out.json) out.value(volumes);
    else {
      out.line(table(['NAME', 'SERVED', 'OWNER', 'FLAGS', 'VOLUME ID', 'CREATED'], volumes.map((v) => [
        v.name, v.served ? 'yes' : 'no', v.owner, [v.readOnly ? 'read-only' : '', v.deletionsPaused ? 'deletions-paused' : ''].filter(Boolean).join(',') || undefined,
        v.volumeId, v.createdAt,
      ])));
    }
    return EXIT.OK;
  },
};
