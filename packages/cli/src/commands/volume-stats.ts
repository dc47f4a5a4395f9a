// cairn volume stats NAME — inodes, bytes, segments, live ratio, replay log, last checkpoint, caches.

import { enc } from '../client.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { bytes, percent, table } from '../output.js';

interface Cache { hits: number; misses: number; hitRate: number }
interface Stats {
  name: string; volumeId: string; inodes: number; liveBytes: number; storedBytes: number; segments: number; deadSegments: number;
  liveRatio: number; replayLogBytes: number; lastCheckpoint?: { id: number; publishedAt?: string }; dirtyFiles: number; openHandles: number;
  caches: { metadata?: Cache; read?: Cache };
}

export const volumeStats: Command = {
  words: ['volume', 'stats'], params: 'NAME', summary: 'statistics of a served volume', minArgs: 1, maxArgs: 1,
  async run({ client, out, args }) {
    const s = await client.get<Stats>(`/v1/volumes/${enc(args[0]!)}/stats`);
    if (out.json) {
      out.value(s);
      return EXIT.OK;
    }
    const cache = (c?: Cache): string | undefined => (c ? `${percent(c.hitRate)} (${c.hits} hits, ${c.misses} misses)` : undefined);
    out.line(table(['FIELD', 'VALUE'], [
      ['volume', `${s.name} (${s.volumeId})`],
      ['inodes', s.inodes],
      ['live bytes', bytes(s.liveBytes)],
      ['stored bytes', bytes(s.storedBytes)],
      ['live ratio', percent(s.liveRatio)],
      ['segments', `${s.segments} live, ${s.deadSegments} dead`],
      ['replay log', bytes(s.replayLogBytes)],
      ['last checkpoint', s.lastCheckpoint ? `#${s.lastCheckpoint.id} at ${s.lastCheckpoint.publishedAt ?? '?'}` : undefined],
      ['dirty files', s.dirtyFiles],
      ['open handles', s.openHandles],
      ['metadata cache', cache(s.caches.metadata)],
      ['read cache', cache(s.caches.read)],
    ]));
    return EXIT.OK;
  },
};
