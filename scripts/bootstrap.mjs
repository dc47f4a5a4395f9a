#!/usr/bin/env node
// Installs the workspace's dependencies when they are missing or stale, so that
// `npm start` and `npm test` work on a fresh clone with only Node 20 and npm.
// pnpm is not required globally: the pinned version from package.json's
// "packageManager" field is run through npx.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmSpec = pkg.packageManager; // e.g. pnpm@9.15.9
const stampFile = join(root, 'node_modules', '.cairn-install-stamp');

function fingerprint() {
  const h = createHash('sha256');
  const files = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml'];
  for (const dir of readdirSync(join(root, 'packages'), { withFileTypes: true })) {
    if (dir.isDirectory()) files.push(join('packages', dir.name, 'package.json'));
  }
  for (const f of files) {
    const p = join(root, f);
    h.update(f).update('\0');
    if (existsSync(p)) h.update(readFileSync(p));
  }
  return h.digest('hex');
}

const want = fingerprint();
const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
if (want !== have) {
  const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  process.stderr.write(`[bootstrap] installing dependencies with ${pnpmSpec}\n`);
  const r = spawnSync('npx', ['--yes', pnpmSpec, 'install', ...frozen], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, npm_config_yes: 'true' },
  });
  if (r.status !== 0) {
    process.stderr.write('[bootstrap] dependency installation failed\n');
    process.exit(r.status ?? 1);
  }
  writeFileSync(stampFile, fingerprint() + '\n');
}
