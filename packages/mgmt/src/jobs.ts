// Long-running background jobs (fsck, scrub, clean, orphan sweep) with
// progress. A job is started by kind and volume, runs when a slot is free
// (at most `maxConcurrent` at once), reports progress (done/total, bytes) that
// the manager turns into a rate and an ETA, and can be canceled (its signal
// aborts). At most one job of each kind per volume runs or waits at a time.
// Finished jobs are kept for polling (the newest `keepFinished`).

import { randomUUID } from 'node:crypto';
import { cairnError, toCairnError, type CairnError } from '@cairn/errors';
import type { Logger } from 'pino';

export const JOB_KINDS = ['fsck', 'scrub', 'clean', 'orphan-sweep'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface JobProgress {
  /** Units done (inodes, files, segments: the kind says). */
  readonly done: number;
  /** Units in all, when known. */
  readonly total?: number;
  /** Bytes processed. */
  readonly bytes?: number;
  /** What the unit is ("inodes", "segments"...). */
  readonly unit?: string;
}

/** What a running job gets. */
export interface JobContext {
  readonly volume: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  progress(p: JobProgress): void;
}

/** A job kind: runs against a volume and returns a JSON summary. Problems found are part of the summary. */
export type JobRunner = (ctx: JobContext) => Promise<Record<string, unknown>>;

export interface JobView {
  readonly id: string;
  readonly kind: JobKind;
  readonly volume: string;
  readonly state: JobState;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly progress: {
    readonly done: number;
    readonly total?: number;
    readonly bytes: number;
    readonly unit?: string;
    /** done / total in [0, 1], when the total is known. */
    readonly fraction?: number;
    /** Units per second since the start. */
    readonly rate: number;
    /** Bytes per second since the start. */
    readonly bytesPerSecond: number;
    /** Seconds left at the current rate, when the total is known. */
    readonly etaSeconds?: number;
  };
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string };
}

interface Job {
  readonly id: string;
  readonly kind: JobKind;
  readonly volume: string;
  readonly params: Record<string, unknown>;
  readonly abort: AbortController;
  state: JobState;
  readonly createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  progress: JobProgress;
  result?: Record<string, unknown>;
  error?: CairnError;
  readonly done: Promise<void>;
  readonly resolveDone: () => void;
}

export interface JobManagerOptions {
  readonly runners: Partial<Record<JobKind, JobRunner>>;
  readonly maxConcurrent?: number;
  readonly keepFinished?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface JobCounts {
  readonly kind: JobKind;
  readonly state: JobState;
  readonly count: number;
}

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private maxConcurrent: number;
  private readonly keepFinished: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly o: JobManagerOptions) {
    this.maxConcurrent = o.maxConcurrent ?? 2;
    this.keepFinished = o.keepFinished ?? 100;
    this.now = o.now ?? Date.now;
  }

  /** Changes the concurrency limit (SIGHUP); queued jobs start when slots free up. */
  setMaxConcurrent(n: number): void {
    this.maxConcurrent = Math.max(1, n);
    this.pump();
  }

  kinds(): JobKind[] {
    return JOB_KINDS.filter((k) => this.o.runners[k] !== undefined);
  }

  start(kind: JobKind, volume: string, params: Record<string, unknown> = {}): JobView {
    if (this.closed) throw cairnError('CAIRN_ERR_MGMT_SHUTTING_DOWN', 'no new jobs');
    if (!JOB_KINDS.includes(kind)) throw cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', `unknown job kind ${String(kind)}`);
    if (this.o.runners[kind] === undefined) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `${kind} jobs in this build`);
    for (const j of this.jobs.values()) {
      if (j.kind === kind && j.volume === volume && (j.state === 'queued' || j.state === 'running')) {
        throw cairnError('CAIRN_ERR_MGMT_JOB_RUNNING', `${kind} on ${volume} (job ${j.id})`, { details: { jobId: j.id } });
      }
    }
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const job: Job = {
      id: randomUUID(), kind, volume, params, abort: new AbortController(), state: 'queued', createdAt: this.now(),
      progress: { done: 0, bytes: 0 }, done, resolveDone,
    };
    this.jobs.set(job.id, job);
    this.queue.push(job);
    this.trim();
    this.pump();
    return this.view(job);
  }

  get(id: string): JobView {
    const j = this.jobs.get(id);
    if (!j) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_JOB', id);
    return this.view(j);
  }

  list(filter: { volume?: string; kind?: JobKind } = {}): JobView[] {
    return [...this.jobs.values()]
      .filter((j) => (filter.volume === undefined || j.volume === filter.volume) && (filter.kind === undefined || j.kind === filter.kind))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((j) => this.view(j));
  }

  /** Cancels a queued or running job (a finished one is left as it is). */
  cancel(id: string): JobView {
    const j = this.jobs.get(id);
    if (!j) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_JOB', id);
    if (j.state === 'queued') {
      this.queue.splice(this.queue.indexOf(j), 1);
      this.finish(j, 'canceled');
    } else if (j.state === 'running') {
      j.abort.abort(cairnError('CAIRN_ERR_CANCELED', `job ${id}`));
    }
    return this.view(j);
  }

  /** Resolves when the job has finished (any state). */
  async wait(id: string): Promise<JobView> {
    const j = this.jobs.get(id);
    if (!j) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_JOB', id);
    await j.done;
    return this.view(j);
  }

  counts(): JobCounts[] {
    const m = new Map<string, JobCounts>();
    for (const j of this.jobs.values()) {
      const k = `${j.kind}/${j.state}`;
      m.set(k, { kind: j.kind, state: j.state, count: (m.get(k)?.count ?? 0) + 1 });
    }
    return [...m.values()];
  }

  get active(): number {
    return this.running + this.queue.length;
  }

  /** Cancels every job on `volume` and waits for them (before it is unserved). */
  async cancelVolume(volume: string): Promise<void> {
    const mine = [...this.jobs.values()].filter((j) => j.volume === volume && (j.state === 'queued' || j.state === 'running'));
    for (const j of mine) this.cancel(j.id);
    await Promise.all(mine.map((j) => j.done));
  }

  /** Refuses new jobs, cancels the running and queued ones and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running');
    for (const j of all) this.cancel(j.id);
    await Promise.all(all.map((j) => j.done));
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const j = this.queue.shift()!;
      this.running++;
      void this.run(j).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(j: Job): Promise<void> {
    j.state = 'running';
    j.startedAt = this.now();
    const logger = this.o.logger.child({ job: j.id, kind: j.kind, volume: j.volume });
    logger.info('job started');
    try {
      const runner = this.o.runners[j.kind]!;
      const result = await runner({
        volume: j.volume, params: j.params, signal: j.abort.signal, logger,
        progress: (p) => {
          j.progress = p;
        },
      });
      if (j.abort.signal.aborted) throw j.abort.signal.reason;
      j.result = result;
      this.finish(j, 'succeeded');
      logger.info({ result }, 'job succeeded');
    } catch (err) {
      j.error = toCairnError(err);
      const canceled = j.abort.signal.aborted;
      this.finish(j, canceled ? 'canceled' : 'failed');
      if (canceled) logger.info('job canceled');
      else logger.warn({ err }, 'job failed');
    }
  }

  private finish(j: Job, state: JobState): void {
    j.state = state;
    j.finishedAt = this.now();
    j.resolveDone();
  }

  private trim(): void {
    const finished = [...this.jobs.values()].filter((j) => j.finishedAt !== undefined).sort((a, b) => a.createdAt - b.createdAt);
    while (finished.length > this.keepFinished) this.jobs.delete(finished.shift()!.id);
  }

  private view(j: Job): JobView {
    const end = j.finishedAt ?? this.now();
    const secs = j.startedAt === undefined ? 0 : Math.max(0.001, (end - j.startedAt) / 1000);
    const done = j.progress.done;
    const bytes = j.progress.bytes ?? 0;
    const total = j.progress.total;
    const rate = secs > 0 ? done / secs : 0;
    const fraction = total !== undefined && total > 0 ? Math.min(1, done / total) : total === 0 ? 1 : undefined;
    const etaSeconds = total !== undefined && j.state === 'running' && rate > 0 ? Math.max(0, (total - done) / rate) : undefined;
    return {
      id: j.id, kind: j.kind, volume: j.volume, state: j.state,
      createdAt: new Date(j.createdAt).toISOString(),
      ...(j.startedAt !== undefined ? { startedAt: new Date(j.startedAt).toISOString() } : {}),
      ...(j.finishedAt !== undefined ? { finishedAt: new Date(j.finishedAt).toISOString() } : {}),
      progress: {
        done, bytes, rate, bytesPerSecond: secs > 0 ? bytes / secs : 0,
        ...(total !== undefined ? { total } : {}),
        ...(j.progress.unit !== undefined ? { unit: j.progress.unit } : {}),
        ...(fraction !== undefined ? { fraction } : {}),
        ...(etaSeconds !== undefined ? { etaSeconds } : {}),
      },
      ...(j.result !== undefined ? { result: j.result } : {}),
      ...(j.error !== undefined ? { error: { code: j.error.code, message: j.error.message } } : {}),
    };
  }
}
