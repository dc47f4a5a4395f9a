// The entry of `npm run bench`: lists the benchmarks, or runs the named ones one
// after the other.
//
//   npm run bench                         list them (name, command, what it measures)
//   npm run bench -- objstore             every benchmark in bench/objstore/
//   npm run bench -- objstore/throughput  one benchmark
//   npm run bench -- replaylog segments   several, in that order
//   npm run bench -- all                  all of them
//   npm run bench -- headhunter/ops -- 10000,100000
//                                         arguments after a second `--` go to each run
//
// A benchmark is a file bench/<area>/<name>.ts whose header comment holds the line
// `Usage: npx tsx bench/<area>/<name>.ts`; the first line of that comment says
// what it measures. Settings go through the environment (CAIRN_BENCH_*), which
// the runs inherit. The exit status is that of the first benchmark that failed.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/report.js';

interface Bench {
  /** "area/name" */
  readonly id: string;
  readonly area: string;
  /** Path relative to the repository root. */
  readonly file: string;
  readonly summary: string;
}

const NOT_AREAS = new Set(['lib', 'results', 'node_modules']);

function discover(): Bench[] {
  const benchDir = join(REPO_ROOT, 'bench');
  const out: Bench[] = [];
  for (const area of readdirSync(benchDir).sort()) {
    if (NOT_AREAS.has(area) || area.startsWith('.') || !statSync(join(benchDir, area)).isDirectory()) continue;
    for (const f of readdirSync(join(benchDir, area)).sort()) {
      if (!f.endsWith('.ts') || f.endsWith('.d.ts') || f.endsWith('.test.ts')) continue;
      const file = `bench/${area}/${f}`;
      const head = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n').slice(0, 80);
      if (!head.some((l) => l.includes(`Usage: npx tsx ${file}`))) continue;
      out.push({ id: `${area}/${f.slice(0, -3)}`, area, file, summary: summaryOf(head) });
    }
  }
  return out;
}

/** The first sentence of the header comment's first paragraph. */
function summaryOf(head: readonly string[]): string {
  const start = head.findIndex((l) => /^\/\/ \S/.test(l));
  if (start < 0) return '';
  const words: string[] = [];
  for (const l of head.slice(start)) {
    if (!/^\/\/ \S/.test(l)) break; // a blank comment line, an indented list, or code
    words.push(l.slice(3).trim());
  }
  const text = words.join(' ');
  const end = text.search(/\.(\s|$)|:$/);
  const first = end < 0 ? text : text.slice(0, end);
  return first.length > 110 ? `${first.slice(0, 109)}…` : first;
}

function list(all: readonly Bench[]): void {
  const w = Math.max(...all.map((b) => b.id.length), 4);
  process.stdout.write('Benchmarks (npm run bench -- <area>|<area/name>|all):\n');
  for (const b of all) process.stdout.write(`  ${b.id.padEnd(w)}  npx tsx ${b.file}\n  ${' '.repeat(w)}  ${b.summary}\n`);
  process.stdout.write('Results go to bench/results/; see bench/README.md for what each one measures and its settings.\n');
}

function main(): number {
  const all = discover();
  // Names, then (after `--`) arguments handed to every benchmark run.
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  const args = sep < 0 ? argv : argv.slice(0, sep);
  const extra = sep < 0 ? [] : argv.slice(sep + 1);
  if (args.length === 0 || args.includes('--list') || args.includes('-l') || args.includes('--help') || args.includes('-h')) {
    list(all);
    return 0;
  }
  const picked: Bench[] = [];
  for (const a of args) {
    const name = a.replace(/^bench\//, '').replace(/\.ts$/, '').replace(/\/$/, '');
    const found = name === 'all' ? all : all.filter((b) => b.id === name || b.area === name);
    if (found.length === 0) {
      process.stderr.write(`no benchmark named ${JSON.stringify(a)}\n`);
      list(all);
      return 2;
    }
    for (const b of found) if (!picked.includes(b)) picked.push(b);
  }
  let status = 0;
  for (const b of picked) {
    process.stderr.write(`\n== ${b.id}: npx tsx ${[b.file, ...extra].join(' ')}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', b.file, ...extra], { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
    const code = r.status ?? 1;
    if (code !== 0) {
      process.stderr.write(`== ${b.id} failed (${r.signal ? `signal ${r.signal}` : `exit ${code}`})\n`);
      if (status === 0) status = code;
    }
  }
  return status;
}

process.exitCode = main();
