// Printing: human tables by default, JSON with --json.

export interface Output {
  readonly json: boolean;
  /** Writes a line to stdout. */
  line(text?: string): void;
  /** Writes a value as JSON (one document) to stdout. */
  value(v: unknown): void;
  /** Writes to stderr. */
  err(text: string): void;
  readonly isTTY: boolean;
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, isTTY: boolean): Output {
  return {
    json,
    isTTY,
    line: (t = '') => void stdout.write(`${t}\n`),
    value: (v) => void stdout.write(`${JSON.stringify(v, null, 2)}\n`),
    err: (t) => void stderr.write(`${t}\n`),
  };
}

/** Left-aligned columns with a header row. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(headers), ...cells.map(fmt)].join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

export function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
