// Running a job to its end: start it, poll it with a progress bar (on a
// terminal, without --json), cancel it on Ctrl-C, print the summary, and turn
// the outcome into an exit code.

import { SingleBar, Presets } from 'cli-progress';
import { enc, type MgmtClient } from './client.js';
import type { CommandContext } from './command.js';
import { EXIT } from './exit-codes.js';
import { bytes, duration } from './output.js';

export interface JobView {
  id: string;
  kind: string;
  volume: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
  progress: { done: number; total?: number; bytes: number; unit?: string; rate: number; bytesPerSecond: number; etaSeconds?: number };
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  startedAt?: string;
  finishedAt?: string;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((r) => {
  const t = setTimeout(r, ms);
  signal.addEventListener('abort', () => {
    clearTimeout(t);
    r();
  }, { once: true });
});

async function poll(client: MgmtClient, id: string, ctx: CommandContext, onTick: (j: JobView) => void): Promise<JobView> {
  let canceled = false;
  for (;;) {
    const j = await client.get<JobView>(`/v1/jobs/${enc(id)}`);
    onTick(j);
    if (j.state !== 'queued' && j.state !== 'running') return j;
    if (ctx.signal.aborted && !canceled) {
      canceled = true;
      await client.post(`/v1/jobs/${enc(id)}/cancel`);
    }
    await sleep(ctx.signal.aborted ? 100 : 300, ctx.signal);
  }
}

/** Starts `kind` on `volume`, follows it, prints the outcome; returns the exit code. */
export async function runJob(ctx: CommandContext, kind: string, volume: string, params: Record<string, unknown> = {}): Promise<number> {
  const { client, out } = ctx;
  const started = await client.post<JobView>(`/v1/volumes/${enc(volume)}/jobs`, { kind, params });
  const showBar = out.isTTY && !out.json;
  const bar = showBar ? new SingleBar({
    format: `${kind} ${volume} [{bar}] {percentage}% | {value}/{total} {unit} | {rate} | ETA {eta_h}`,
    hideCursor: true,
  }, Presets.shades_classic) : undefined;
  let barStarted = false;
  if (!showBar && !out.json) out.err(`${kind} of ${volume} started (job ${started.id})`);
  const final = await poll(client, started.id, ctx, (j) => {
    if (!bar) return;
    const total = j.progress.total ?? Math.max(j.progress.done, 1);
    const payload = {
      unit: j.progress.unit ?? '', rate: j.progress.bytesPerSecond > 0 ? `${bytes(j.progress.bytesPerSecond)}/s` : `${j.progress.rate.toFixed(1)}/s`,
      eta_h: j.progress.etaSeconds !== undefined ? duration(j.progress.etaSeconds) : '-',
    };
    if (!barStarted) {
      bar.start(total, j.progress.done, payload);
      barStarted = true;
    } else {
      bar.setTotal(total);
      bar.update(j.progress.done, payload);
    }
  });
  bar?.stop();
  if (out.json) out.value(final);
  else {
    const took = final.startedAt && final.finishedAt ? duration((Date.parse(final.finishedAt) - Date.parse(final.startedAt)) / 1000) : '-';
    out.line(`${kind} of ${volume}: ${final.state} in ${took}`);
    if (final.error) out.line(`  ${final.error.code}: ${final.error.message}`);
    for (const [k, v] of Object.entries(final.result ?? {})) {
      if (k === 'details' && Array.isArray(v)) for (const d of v) out.line(`  problem: ${String(d)}`);
      else out.line(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    }
  }
  if (final.state === 'canceled') return EXIT.CANCELED;
  if (final.state === 'failed') return final.error?.code === 'CAIRN_ERR_NOT_SUPPORTED' ? EXIT.NOT_SUPPORTED : EXIT.ERROR;
  return final.result?.['ok'] === false ? EXIT.PROBLEMS : EXIT.OK;
}
