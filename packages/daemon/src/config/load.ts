// Loading the configuration: read the YAML file (or nothing), apply the
// environment overrides, fill defaults, validate against the schema. Every
// problem is reported at once, each as "<dotted key>: <problem>".

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { cairnError } from '@cairn/errors';
import { parseDocument } from 'yaml';
import { applyEnvOverrides } from './env.js';
import { configSchema, type CairnConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: CairnConfig;
  /** The file read, or undefined for the built-in defaults. */
  readonly file: string | undefined;
  /** Environment variables that overrode keys. */
  readonly envUsed: readonly string[];
}

/** "/mgmt/port" -> "mgmt.port", "/volumes/0/name" -> "volumes[0].name". */
export function keyOfPath(path: string): string {
  let out = '';
  for (const part of path.split('/').slice(1)) {
    const p = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  }
  return out === '' ? '(top level)' : out;
}

function describe(message: string, value: unknown): string {
  if (message === 'Unexpected property') return 'unknown key';
  const shown = typeof value === 'string' ? `"${value}"` : value === undefined ? 'nothing' : JSON.stringify(value);
  return `${message.charAt(0).toLowerCase()}${message.slice(1)}, got ${shown}`;
}

/** Validates a raw config object (defaults filled in); throws CAIRN_ERR_CONFIG_SCHEMA naming each bad key. */
export function validateConfig(raw: unknown, source = 'configuration'): CairnConfig {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: the top level must be a mapping`);
  const filled = Value.Default(configSchema, structuredClone(raw));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(configSchema, filled)) {
    const key = keyOfPath(e.path);
    // A union reports one error per branch and then its own; keep the first per key.
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(`${key}: ${describe(e.message, e.value)}`);
  }
  if (problems.length > 0) {
    throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: ${problems.join('; ')}`, { details: { problems } });
  }
  const cfg = filled as CairnConfig;
  const names = new Set<string>();
  for (const [i, v] of cfg.volumes.entries()) {
    if (names.has(v.name)) throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: volumes[${i}].name: volume "${v.name}" is listed twice`);
    names.add(v.name);
  }
  if (cfg.mgmt.readTokens.includes(cfg.mgmt.adminToken) && cfg.mgmt.adminToken !== '') {
    throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: mgmt.readTokens: must not contain the admin token`);
  }
  if (cfg.backend.kind === 's3') {
    for (const k of ['endpoint', 'accessKeyId', 'secretAccessKey'] as const) {
      if (cfg.backend.s3[k] === '') throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: backend.s3.${k}: required when backend.kind is s3`);
    }
  }
  if (cfg.backend.kind === 'swift') {
    for (const k of ['authUrl', 'user', 'key'] as const) {
      if (cfg.backend.swift[k] === '') throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: backend.swift.${k}: required when backend.kind is swift`);
    }
  }
  if (cfg.fencing.kind === 'etcd' && cfg.fencing.etcd.endpoints.length === 0) {
    throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: fencing.etcd.endpoints: required when fencing.kind is etcd`);
  }
  return cfg;
}

/** Parses YAML text into a raw object (CAIRN_ERR_CONFIG_PARSE with line and column on a syntax error). */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    throw cairnError('CAIRN_ERR_CONFIG_PARSE', `${source}${at}: ${e.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw cairnError('CAIRN_ERR_CONFIG_SCHEMA', `${source}: the top level must be a mapping`);
  return raw as Record<string, unknown>;
}

/**
 * Loads the configuration: `file` (or $CAIRN_CONFIG; neither: built-in
 * defaults), then environment overrides, then the schema. `dataDir` and the fs
 * root are resolved against `cwd`.
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const path = file ?? (env['CAIRN_CONFIG'] ? env['CAIRN_CONFIG'] : undefined);
  let raw: Record<string, unknown> = {};
  let abs: string | undefined;
  if (path !== undefined) {
    abs = isAbsolute(path) ? path : resolve(cwd, path);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      throw cairnError('CAIRN_ERR_CONFIG_NOT_FOUND', `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    raw = parseConfigText(text, path);
  }
  const envUsed = applyEnvOverrides(raw, env);
  const config = validateConfig(raw, path ?? 'built-in defaults');
  const dataDir = resolve(cwd, config.dataDir);
  const resolved: CairnConfig = {
    ...config,
    dataDir,
    backend: { ...config.backend, fs: { ...config.backend.fs, root: config.backend.fs.root === '' ? resolve(dataDir, 'objects') : resolve(cwd, config.backend.fs.root) } },
  };
  return { config: resolved, file: abs, envUsed };
}
