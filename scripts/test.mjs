#!/usr/bin/env node
// `npm test`: type-checks the workspace, then runs every test with vitest.
// Extra arguments go to vitest (e.g. `npm test -- packages/objstore`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, 'node_modules', '.bin', n);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const args = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write('[test] type-checking\n');
  const tc = run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
  if (tc !== 0) process.exit(tc);
}
process.exit(run(bin('vitest'), ['run', ...args]));
