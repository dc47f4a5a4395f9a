// Environment overrides: the few keys an operator sets per host or container
// without editing the file. Each applies after the file is read and before the
// schema check, so a bad value is reported with its variable name.

import { cairnError } from '@cairn/errors';

export interface EnvOverride {
  readonly env: string;
  /** Dotted config key. */
  readonly key: string;
  readonly type: 'string' | 'port' | 'list' | 'level';
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { env: 'CAIRN_DATA_DIR', key: 'dataDir', type: 'string' },
  { env: 'CAIRN_LOG_LEVEL', key: 'log.level', type: 'level' },
  { env: 'CAIRN_LISTEN_HOST', key: 'listen.host', type: 'string' },
  { env: 'CAIRN_ADMIN_TOKEN', key: 'mgmt.adminToken', type: 'string' },
  { env: 'CAIRN_READ_TOKENS', key: 'mgmt.readTokens', type: 'list' },
  { env: 'CAIRN_MGMT_PORT', key: 'mgmt.port', type: 'port' },
  { env: 'CAIRN_RPC_PORT', key: 'rpc.port', type: 'port' },
  { env: 'CAIRN_OBJECT_PORT', key: 'objectApi.port', type: 'port' },
];

/** The environment variable that names the config file (as --config does). */
export const CONFIG_ENV = 'CAIRN_CONFIG';

function parse(o: EnvOverride, raw: string): unknown {
  switch (o.type) {
    case 'string':
    case 'level':
      return raw;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'port': {
      if (!/^\d+$/.test(raw.trim())) throw cairnError('CAIRN_ERR_CONFIG_ENV', `${o.env} (${o.key}) must be a port number, got "${raw}"`);
      return Number(raw.trim());
    }
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined || next === null) cur[p] = {};
    else if (typeof next !== 'object' || Array.isArray(next)) throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${p}: must be a mapping (needed for ${key})`);
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** Applies the overrides present in `env` to the raw (unvalidated) config; returns the variables used. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const used: string[] = [];
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v === undefined || v === '') continue;
    setPath(raw, o.key, parse(o, v));
    used.push(o.env);
  }
  return used;
}
