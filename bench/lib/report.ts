// Small helpers a benchmark may share: the repository root, a Markdown table,
// number formatting, the machine description and writing bench/results/<name>.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is bench/lib/report.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Columns whose cells are right-aligned (numbers); the others are left-aligned. */
export type Align = 'l' | 'r';

/** A Markdown table (readable as plain text too). */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number): string => (align[i] === 'r' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: readonly string[]): string => `| ${header.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** What the numbers were measured on. */
export function machine(): { node: string; platform: string; cpus: number; cpuModel: string; memoryGiB: number } {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
  };
}

/** Writes bench/results/<name>.json and returns its path relative to the repository root. */
export function writeResult(name: string, data: unknown): string {
  const rel = join('bench', 'results', `${name}.json`);
  const path = join(REPO_ROOT, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return rel;
}

/** Latency samples in a growable typed buffer (milliseconds). */
export class Samples {
  private buf = new Float64Array(1024);
  length = 0;

  add(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  addAll(o: Samples): void {
    for (let i = 0; i < o.length; i++) this.add(o.buf[i]!);
  }

  /** The q-quantile (0..1) of the samples, 0 when there are none. */
  quantile(q: number): number {
    if (this.length === 0) return 0;
    const s = this.buf.slice(0, this.length).sort();
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  }
}

/** Reads a numeric environment knob, failing loudly on garbage. */
export function envNumber(name: string, dflt: number, min = 0): number {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${v}: expected a number >= ${min}`);
  return n;
}
