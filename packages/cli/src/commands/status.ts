// cairn status — the daemon: node, uptime, listeners, volumes, jobs, readiness.

import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { duration, table } from '../output.js';

interface Status {
  nodeId: string; version: string; pid: number; uptimeSeconds: number; backend: string; ownership: string;
  listeners: Array<{ api: string; url: string }>; volumes: Array<{ name: string; served: boolean; owner?: string; readOnly: boolean }>;
  jobsRunning: number; shuttingDown: boolean;
}

export const status: Command = {
  words: ['status'], params: '', summary: 'daemon status', minArgs: 0, maxArgs: 0,
  async run({ client, out }) {
    const s = await client.get<Status>('/v1/status');
    if (out.json) {
      out.value(s);
      return EXIT.OK;
    }
    out.line(`cairnd ${s.version} on node ${s.nodeId} (pid ${s.pid}), up ${duration(s.uptimeSeconds)}, ${s.backend} backend, ${s.ownership} ownership${s.shuttingDown ? ', SHUTTING DOWN' : ''}`);
    out.line('');
    out.line(table(['API', 'LISTENS AT'], s.listeners.map((l) => [l.api, l.url])));
    out.line('');
    out.line(table(['VOLUME', 'SERVED', 'OWNER', 'READ-ONLY'], s.volumes.map((v) => [v.name, v.served ? 'yes' : 'no', v.owner, v.readOnly ? 'yes' : 'no'])));
    out.line('');
    out.line(`jobs running or queued: ${s.jobsRunning}`);
    return EXIT.OK;
  },
};
