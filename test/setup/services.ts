// Vitest globalSetup: starts the real services (Swift with s3api, etcd) once per
// test run through scripts/services.sh, for the selected test files that use them,
// and hands their settings to the tests (`provide('cairnServices', ...)`, read by
// test/helpers/services.ts).
//
//   - Only what the selected files need is started: a file needs Swift when it
//     (or a local module it imports) calls swiftSettings() or s3Settings(), etcd
//     when it calls etcdEndpoints(). A run of unit tests starts nothing.
//   - What is already running (`scripts/services.sh start`, or an earlier run) is
//     reused. A service this setup started is stopped after the run, unless
//     another test run still holds a lease on it (scripts/services.sh
//     acquire/release; the last run out stops it).
//   - CAIRN_SERVICES=off  start nothing; the suites that need services are skipped.
//     CAIRN_SERVICES=all  start both whatever the selection (e.g. for watch mode).
//   - When a needed service cannot start (no root, no apt-get, a failure): with
//     CI=true the run fails with the reason; otherwise its suites are skipped and
//     the end of the run lists them with the reason. CAIRN_SERVICES=off is refused
//     under CI=true.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { S3Settings, ServiceName, ServicesState, SwiftSettings } from '../helpers/services.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'scripts/services.sh');
const HELPERS = join(ROOT, 'test/helpers/services.ts');
const ALL: readonly ServiceName[] = ['swift', 'etcd'];
/** First-time installs take about a minute; a stuck apt-get should not hang the run forever. */
const ACQUIRE_TIMEOUT_MS = 10 * 60_000;

const USES: ReadonlyArray<[RegExp, ServiceName]> = [
  [/\bswiftSettings\s*\(/, 'swift'],
  [/\bs3Settings\s*\(/, 'swift'],
  [/\betcdEndpoints\s*\(/, 'etcd'],
];

function log(msg: string): void {
  process.stderr.write(`[services] ${msg}\n`);
}

function isCI(): boolean {
  const v = (process.env['CI'] ?? '').toLowerCase();
  return v === 'true' || v === '1';
}

/** The services each one of `files` uses (following local imports), by service. */
export function servicesUsedBy(files: readonly string[]): Map<ServiceName, string[]> {
  const memo = new Map<string, Set<ServiceName>>();
  const visit = (file: string, depth: number): Set<ServiceName> => {
    const known = memo.get(file);
    if (known) return known;
    const found = new Set<ServiceName>();
    memo.set(file, found);
    if (file === HELPERS || depth > 8 || !existsSync(file)) return found;
    const text = readFileSync(file, 'utf8');
    for (const [re, svc] of USES) if (re.test(text)) found.add(svc);
    for (const m of text.matchAll(/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
      if (!target.startsWith(ROOT) || target.includes('node_modules')) continue;
      for (const s of visit(target, depth + 1)) found.add(s);
    }
    return found;
  };
  const out = new Map<ServiceName, string[]>();
  for (const f of files) {
    for (const s of visit(f, 0)) {
      const list = out.get(s) ?? [];
      list.push(relative(ROOT, f));
      out.set(s, list);
    }
  }
  return out;
}

async function selectedFiles(project: TestProject): Promise<string[] | undefined> {
  try {
    // The CLI filters of this run (vitest keeps them on the instance while it runs).
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
    const { testFiles } = await project.globTestFiles(filters);
    return testFiles;
  } catch {
    return undefined;
  }
}

interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(args: readonly string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolvePromise) => {
    const child = spawn('bash', [SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Installation is slow the first time: show progress lines as they come.
      if (/installing|up in|already running/.test(d.toString())) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      stderr += `\n(timed out after ${timeoutMs / 1000} s)`;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ code: 127, stdout, stderr: `${stderr}\n${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? 1, stdout, stderr });
    });
  });
}

function parseKeyValues(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  return env;
}

function reasonFrom(r: ScriptResult): string {
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^#/.test(l));
  const useful = lines.filter((l) => !/^\[services\] some services failed/.test(l)).slice(-3).join(' | ');
  return `scripts/services.sh exited with ${r.code}${useful ? `: ${useful}` : ''}`;
}

// (Here rather than in the helpers: this module must not load 'vitest' at run time.)
/** Builds the settings from KEY=VALUE pairs (scripts/services.sh env, or process.env). */
export function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): Omit<ServicesState, 'unavailable'> {
  const out: { swift?: SwiftSettings; s3?: S3Settings; etcd?: { endpoints: string[] } } = {};
  if (env['SWIFT_AUTH_URL'] && env['SWIFT_USER'] && env['SWIFT_KEY']) {
    const auth = new URL(env['SWIFT_AUTH_URL']);
    out.swift = {
      authUrl: env['SWIFT_AUTH_URL'],
      user: env['SWIFT_USER'],
      key: env['SWIFT_KEY'],
      storageUrl: env['SWIFT_STORAGE_URL'] ?? `${auth.origin}/v1/AUTH_${env['SWIFT_USER'].split(':')[0]}`,
      memcached: env['SWIFT_MEMCACHED'] ?? `${auth.hostname}:21211`,
    };
  }
  if (env['S3_ENDPOINT'] && env['S3_ACCESS_KEY_ID'] && env['S3_SECRET_ACCESS_KEY']) {
    out.s3 = {
      endpoint: env['S3_ENDPOINT'],
      accessKeyId: env['S3_ACCESS_KEY_ID'],
      secretAccessKey: env['S3_SECRET_ACCESS_KEY'],
      region: env['S3_REGION'] ?? 'us-east-1',
    };
  }
  if (env['ETCD_ENDPOINTS']) {
    out.etcd = { endpoints: env['ETCD_ENDPOINTS'].split(',').map((s) => s.trim()).filter(Boolean) };
  }
  return out;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ci = isCI();
  const mode = (process.env['CAIRN_SERVICES'] ?? 'auto').trim().toLowerCase();
  if (!['auto', 'all', 'off'].includes(mode)) {
    throw new Error(`CAIRN_SERVICES=${mode}: expected auto (default), all or off`);
  }
  if (mode === 'off' && ci) {
    throw new Error('CAIRN_SERVICES=off is not allowed with CI=true: CI must run the integration suites against real Swift and etcd');
  }
  const files = await selectedFiles(project);
  const uses = files ? servicesUsedBy(files) : new Map(ALL.map((s) => [s, ['(selection unknown)']] as const));
  const needed: ServiceName[] = mode === 'all' ? [...ALL] : ALL.filter((s) => uses.has(s));

  const unavailable: Partial<Record<ServiceName, string>> = {};
  let env: Record<string, string> = {};
  const acquired: ServiceName[] = [];
  if (mode === 'off') {
    for (const s of needed) unavailable[s] = 'CAIRN_SERVICES=off';
  } else if (needed.length > 0) {
    const started = Date.now();
    log(`starting ${needed.join(' and ')} for ${[...new Set(needed.flatMap((s) => uses.get(s) ?? []))].length} test file(s)`);
    const results = await Promise.all(needed.map((s) => runScript(['acquire', String(process.pid), s], ACQUIRE_TIMEOUT_MS)));
    needed.forEach((s, i) => {
      const r = results[i]!;
      if (r.code === 0) {
        acquired.push(s);
        env = { ...env, ...parseKeyValues(r.stdout) };
      } else {
        unavailable[s] = reasonFrom(r);
      }
    });
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s${Object.keys(unavailable).length ? ` (unavailable: ${Object.keys(unavailable).join(', ')})` : ''}`);
  }
  const settings = settingsFromEnv(env);
  for (const s of acquired) {
    if (s === 'swift' && !settings.swift) unavailable.swift = 'scripts/services.sh printed no Swift settings';
    if (s === 'etcd' && !settings.etcd) unavailable.etcd = 'scripts/services.sh printed no etcd endpoints';
  }

  const release = async (): Promise<void> => {
    await Promise.all(acquired.map((s) => runScript(['release', String(process.pid), s], 120_000)));
  };
  if (ci && Object.keys(unavailable).length > 0) {
    await release();
    const why = Object.entries(unavailable).map(([s, r]) => `  ${s}: ${r}`).join('\n');
    throw new Error(`the real services could not be started and CI=true requires them:\n${why}\n` +
      'Run `scripts/services.sh start` as root on Debian to see the full output.');
  }
  const state: ServicesState = {
    ...(unavailable.swift ? {} : { ...(settings.swift ? { swift: settings.swift } : {}), ...(settings.s3 ? { s3: settings.s3 } : {}) }),
    ...(unavailable.etcd || !settings.etcd ? {} : { etcd: settings.etcd }),
    unavailable: {
      ...unavailable,
      ...(needed.includes('swift') ? {} : { swift: 'not started: no selected test file calls swiftSettings() or s3Settings() (CAIRN_SERVICES=all starts it)' }),
      ...(needed.includes('etcd') ? {} : { etcd: 'not started: no selected test file calls etcdEndpoints() (CAIRN_SERVICES=all starts it)' }),
    },
  };
  project.provide('cairnServices', state);

  return async () => {
    await release();
    const skipped = (Object.keys(unavailable) as ServiceName[]).filter((s) => uses.has(s));
    if (skipped.length > 0) {
      const lines = skipped.flatMap((s) => (uses.get(s) ?? []).map((f) => `  ${f}  (${s}: ${unavailable[s]})`));
      process.stderr.write(`\n[services] these suites were NOT run (their tests are reported as skipped):\n${lines.join('\n')}\n` +
        '[services] start the services with `scripts/services.sh start` (root, Debian) or run with CI=true to make this an error.\n');
    }
  };
}
