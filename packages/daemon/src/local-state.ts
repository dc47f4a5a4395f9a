// cairnd's small local files: the node id, the generated credentials, the
// runtime file the CLI reads to find the daemon, and the serve/unserve
// decisions taken at run time. Writes go to a temporary file that is renamed
// over the old one, so a crash leaves the old or the new content.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cairnError } from '@cairn/errors';
import { localPaths } from './paths.js';

export interface StoredCredentials {
  adminToken: string;
  objectApiKey: string;
  volumeSecrets: Record<string, string>;
}

/** What the CLI needs to reach a running daemon (written to <dataDir>/cairnd.json). */
export interface RuntimeInfo {
  readonly pid: number;
  readonly nodeId: string;
  readonly startedAt: string;
  readonly mgmtUrl: string;
  readonly rpc?: { readonly host: string; readonly port: number };
  readonly objectApiUrl?: string;
}

function readJson<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cairnError('CAIRN_ERR_INTERNAL', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw cairnError('CAIRN_ERR_INTERNAL', `${path} is not valid JSON; fix or remove it`, { cause: err });
  }
}

function writeJson(path: string, value: unknown, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  renameSync(tmp, path);
}

export const newSecret = (): string => randomBytes(24).toString('base64url');

export class LocalState {
  constructor(readonly dataDir: string) {}

  /** Creates the data directory. */
  init(): void {
    mkdirSync(this.dataDir, { recursive: true });
  }

  /** The configured node id, or the one generated at first start. */
  nodeId(configured: string): string {
    if (configured !== '') return configured;
    const path = localPaths.node(this.dataDir);
    const got = readJson<{ nodeId?: string }>(path);
    if (got?.nodeId) return got.nodeId;
    const nodeId = `cairnd-${randomUUID().slice(0, 8)}`;
    writeJson(path, { nodeId });
    return nodeId;
  }

  /** Loads the stored credentials, generating any that are missing (kept with mode 0600). */
  credentials(volumes: readonly string[]): StoredCredentials {
    const path = localPaths.credentials(this.dataDir);
    const got = readJson<Partial<StoredCredentials>>(path) ?? {};
    const creds: StoredCredentials = {
      adminToken: got.adminToken || newSecret(),
      objectApiKey: got.objectApiKey || newSecret(),
      volumeSecrets: { ...(got.volumeSecrets ?? {}) },
    };
    for (const v of volumes) creds.volumeSecrets[v] ||= newSecret();
    if (JSON.stringify(creds) !== JSON.stringify({ adminToken: got.adminToken, objectApiKey: got.objectApiKey, volumeSecrets: got.volumeSecrets ?? {} })) {
      writeJson(path, creds, 0o600);
    }
    return creds;
  }

  /** Adds a generated secret for a volume created at run time. */
  volumeSecret(volume: string): string {
    return this.credentials([volume]).volumeSecrets[volume]!;
  }

  writeRuntime(info: RuntimeInfo): void {
    writeJson(localPaths.runtime(this.dataDir), info);
  }

  removeRuntime(): void {
    rmSync(localPaths.runtime(this.dataDir), { force: true });
  }

  /** Serve decisions taken at run time (true: serve, false: leave unserved). */
  servedOverrides(): Record<string, boolean> {
    return readJson<Record<string, boolean>>(localPaths.served(this.dataDir)) ?? {};
  }

  setServed(volume: string, serve: boolean): void {
    writeJson(localPaths.served(this.dataDir), { ...this.servedOverrides(), [volume]: serve });
  }
}

/** Reads the runtime file of a daemon (the CLI's default target). */
export function readRuntime(dataDir: string): RuntimeInfo | undefined {
  return readJson<RuntimeInfo>(localPaths.runtime(dataDir));
}

/** Reads stored credentials without creating any. */
export function readCredentials(dataDir: string): StoredCredentials | undefined {
  return readJson<StoredCredentials>(localPaths.credentials(dataDir));
}
