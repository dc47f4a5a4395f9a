// Configuration: defaults, validation errors that name the key and the
// problem, environment overrides, YAML errors, and the generated docs and
// example file staying in sync with the schema.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCairnError } from '@cairn/errors';
import { DEFAULT_MGMT_PORT, keyOfPath, loadConfig, parseConfigText, validateConfig } from '@cairn/daemon';
import { DOC_FILE, EXAMPLE_FILE, configurationDoc, exampleYaml } from '../../packages/daemon/src/config/gen-docs.js';

function problem(raw: unknown): string {
  try {
    validateConfig(raw, 'test.yaml');
  } catch (err) {
    if (isCairnError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('accepted');
}

describe('configuration schema', () => {
  it('fills every default from nothing', () => {
    const c = validateConfig(undefined);
    expect(c.mgmt.port).toBe(DEFAULT_MGMT_PORT);
    expect(c.backend.kind).toBe('fs');
    expect(c.volumes).toEqual([{ name: 'vol1', serve: true, format: true, secret: '', dataContainers: [] }]);
    expect(c.limits.maxFlushSize).toBe(10 * 1024 * 1024);
  });
  it('fills the defaults of each listed volume', () => {
    const c = validateConfig({ volumes: [{ name: 'a' }, { name: 'b', serve: false }] });
    expect(c.volumes).toEqual([
      { name: 'a', serve: true, format: true, secret: '', dataContainers: [] },
      { name: 'b', serve: false, format: true, secret: '', dataContainers: [] },
    ]);
  });
  it('names unknown keys, at any depth', () => {
    expect(problem({ mgmt: { prot: 1 } })).toMatch(/CAIRN_ERR_CONFIG_SCHEMA: .*mgmt\.prot: unknown key/);
    expect(problem({ colour: 'red' })).toMatch(/colour: unknown key/);
    expect(problem({ volumes: [{ name: 'a', sevre: true }] })).toMatch(/volumes\[0\]\.sevre: unknown key/);
  });
  it('names keys of the wrong type or out of range, with the value', () => {
    expect(problem({ mgmt: { port: 'eighty' } })).toMatch(/mgmt\.port: expected integer, got "eighty"/);
    expect(problem({ mgmt: { port: 70000 } })).toMatch(/mgmt\.port: expected integer to be less or equal to 65535, got 70000/);
    expect(problem({ limits: { maxFlushSize: 0 } })).toMatch(/limits\.maxFlushSize: .*greater or equal to 1, got 0/);
    expect(problem({ backend: { kind: 'ftp' } })).toMatch(/backend\.kind: .*got "ftp"/);
    expect(problem({ log: { level: 'loud' } })).toMatch(/log\.level: /);
    expect(problem({ volumes: [{ name: 'Bad Name' }] })).toMatch(/volumes\[0\]\.name: expected string to match .*got "Bad Name"/);
    expect(problem({ volumes: [{}] })).toMatch(/volumes\[0\]\.name: /);
  });
  it('reports every problem at once', () => {
    const msg = problem({ mgmt: { prot: 1, port: 'x' }, rpc: { enabled: 'yes' } });
    expect(msg).toMatch(/mgmt\.prot/);
    expect(msg).toMatch(/mgmt\.port/);
    expect(msg).toMatch(/rpc\.enabled: expected boolean/);
  });
  it('checks what the schema alone cannot', () => {
    expect(problem({ volumes: [{ name: 'a' }, { name: 'a' }] })).toMatch(/volumes\[1\]\.name: volume "a" is listed twice/);
    expect(problem({ backend: { kind: 's3' } })).toMatch(/backend\.s3\.endpoint: required when backend\.kind is s3/);
    expect(problem({ backend: { kind: 'swift', swift: { authUrl: 'http://x' } } })).toMatch(/backend\.swift\.user: required/);
    expect(problem({ mgmt: { adminToken: 't', readTokens: ['t'] } })).toMatch(/mgmt\.readTokens: must not contain the admin token/);
  });
  it('turns JSON pointers into dotted keys', () => {
    expect(keyOfPath('/a/b/0/c')).toBe('a.b[0].c');
    expect(keyOfPath('')).toBe('(top level)');
  });
});

describe('loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-config-'));
  const file = (text: string): string => {
    const p = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(p, text);
    return p;
  };

  it('applies environment overrides and resolves paths against the working directory', () => {
    const l = loadConfig(file('mgmt:\n  port: 1234\n'), { CAIRN_MGMT_PORT: '0', CAIRN_DATA_DIR: 'state', CAIRN_READ_TOKENS: 'a, b', CAIRN_LOG_LEVEL: 'debug' }, dir);
    expect(l.config.mgmt.port).toBe(0);
    expect(l.config.dataDir).toBe(join(dir, 'state'));
    expect(l.config.backend.fs.root).toBe(join(dir, 'state', 'objects'));
    expect(l.config.mgmt.readTokens).toEqual(['a', 'b']);
    expect(l.config.log.level).toBe('debug');
    expect([...l.envUsed].sort()).toEqual(['CAIRN_DATA_DIR', 'CAIRN_LOG_LEVEL', 'CAIRN_MGMT_PORT', 'CAIRN_READ_TOKENS']);
  });
  it('takes the file from CAIRN_CONFIG', () => {
    const l = loadConfig(undefined, { CAIRN_CONFIG: file('rpc:\n  enabled: false\n') }, dir);
    expect(l.config.rpc.enabled).toBe(false);
  });
  it('names a bad environment value and its key', () => {
    expect(() => loadConfig(undefined, { CAIRN_RPC_PORT: 'many' }, dir)).toThrow(/CAIRN_RPC_PORT \(rpc\.port\) must be a port number/);
    expect(() => loadConfig(undefined, { CAIRN_LOG_LEVEL: 'loud' }, dir)).toThrow(/log\.level/);
  });
  it('reports a missing file, YAML errors with their line, and a non-mapping', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'), {}, dir)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_CONFIG_NOT_FOUND' }));
    expect(() => parseConfigText('mgmt:\n  port: [1,\n', 'x.yaml')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_CONFIG_PARSE' }));
    expect(() => parseConfigText('a: 1\na: 2\n', 'x.yaml')).toThrow(/line 2/);
    expect(() => parseConfigText('- 1\n- 2\n', 'x.yaml')).toThrow(/top level must be a mapping/);
    expect(loadConfig(file(''), {}, dir).config.mgmt.port).toBe(DEFAULT_MGMT_PORT);
  });
  it('the example file loads to exactly the defaults', () => {
    const fromExample = loadConfig(EXAMPLE_FILE.pathname, {}, dir).config;
    const defaults = loadConfig(undefined, {}, dir).config;
    expect(fromExample).toEqual(defaults);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('generated documentation', () => {
  it('docs/configuration.md lists every key (regenerate: npx tsx packages/daemon/src/config/gen-docs.ts)', () => {
    const current = readFileSync(DOC_FILE, 'utf8');
    expect(current).toBe(configurationDoc(current));
  });
  it('config/cairn.example.yaml is up to date', () => {
    expect(readFileSync(EXAMPLE_FILE, 'utf8')).toBe(exampleYaml());
  });
});
