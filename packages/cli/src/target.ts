// Where the daemon is and which token to use: --server/--token flags, then
// CAIRN_SERVER / CAIRN_TOKEN (or CAIRN_ADMIN_TOKEN), then the local default:
// the runtime and credentials files a cairnd keeps in its data directory
// (--data-dir, CAIRN_DATA_DIR, else ./data).

import { resolve } from 'node:path';
import { readCredentials, readRuntime } from '@cairn/daemon/local-state';

export interface Target {
  readonly server: string | undefined;
  readonly token: string | undefined;
  /** Where each came from, for error messages. */
  readonly from: string;
}

export function resolveTarget(flags: { server?: string; token?: string; dataDir?: string }, env: NodeJS.ProcessEnv, cwd: string): Target {
  const dataDir = resolve(cwd, flags.dataDir ?? env['CAIRN_DATA_DIR'] ?? 'data');
  let server = flags.server ?? env['CAIRN_SERVER'];
  let token = flags.token ?? env['CAIRN_TOKEN'] ?? env['CAIRN_ADMIN_TOKEN'];
  let from = flags.server ? '--server' : env['CAIRN_SERVER'] ? 'CAIRN_SERVER' : '';
  if (server === undefined) {
    try {
      const rt = readRuntime(dataDir);
      if (rt) {
        server = rt.mgmtUrl;
        from = `the daemon's runtime file in ${dataDir}`;
      }
    } catch {
      // unreadable: reported as "no daemon found" below
    }
  }
  if (token === undefined) {
    try {
      token = readCredentials(dataDir)?.adminToken;
    } catch {
      token = undefined;
    }
  }
  return { server: server?.replace(/\/+$/, ''), token, from: from || `no daemon found (looked in ${dataDir})` };
}
