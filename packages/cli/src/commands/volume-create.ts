// cairn volume create NAME [--data-container C]... [--no-serve] — formats a new volume (and serves it).

import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const volumeCreate: Command = {
  words: ['volume', 'create'], params: 'NAME', summary: 'create and format a volume, then serve it', minArgs: 1, maxArgs: 1,
  options: { 'data-container': { type: 'string', multiple: true }, 'no-serve': { type: 'boolean' } },
  async run({ client, out, args, flags }) {
    const dc = flags['data-container'] as unknown as string[] | undefined;
    const v = await client.post<{ name: string; served: boolean; volumeId?: string }>('/v1/volumes', {
      name: args[0], ...(dc && dc.length > 0 ? { dataContainers: dc } : {}), serve: flags['no-serve'] !== true,
    });
    if (out.json) out.value(v);
    else out.line(`volume ${v.name} created (id ${v.volumeId ?? '?'})${v.served ? ' and served' : ''}`);
    return EXIT.OK;
  },
};
