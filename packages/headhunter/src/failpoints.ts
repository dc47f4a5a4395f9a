// Named failpoints for crash tests. A failpoint is a spot in the commit,
// checkpoint, mount or reclaim path where a test can make the process die,
// throw, stall or wait. Nothing is armed unless a Failpoints object is passed
// in the options; failpointsFromEnv() builds one from CAIRN_FAILPOINTS, which
// is how a crash test arms them in a child process.
//
// Spec: entries separated by ';', each `name=action[@n | %p]`:
//   action  kill (SIGKILL this process) | exit (exit code 86) | throw | hang | delay:<ms>
//   @n      fire on the n-th hit only (default: every hit)
//   %p      fire with probability p (0..1) on each hit
// Example: CAIRN_FAILPOINTS='checkpoint.after-nodes-put=kill@2;batch.after-log-append=delay:5'

import { cairnError } from '@cairn/errors';

/** Every failpoint name, in the order they are reached. */
export const FAILPOINT_NAMES = [
  'batch.before-log-append',
  'batch.after-log-append',
  'batch.after-durable',
  'checkpoint.before-nodes-put',
  'checkpoint.after-nodes-put',
  'checkpoint.before-publish',
  'checkpoint.after-publish',
  'checkpoint.after-discard',
  'mount.after-replay',
  'mount.after-claim',
  'reclaim.before-delete',
] as const;

export type FailpointName = (typeof FAILPOINT_NAMES)[number];

type Action = { kind: 'kill' } | { kind: 'exit' } | { kind: 'throw' } | { kind: 'hang' } | { kind: 'delay'; ms: number };

interface Armed {
  readonly action: Action;
  readonly nth: number | undefined;
  readonly probability: number | undefined;
  hits: number;
}

/** A set of armed failpoints. */
export interface Failpoints {
  /** Called at failpoint `name`; does whatever is armed there (usually nothing). */
  hit(name: FailpointName): Promise<void>;
  /** How often each failpoint was reached. */
  counts(): Record<string, number>;
}

/** Builds failpoints from a spec string (see the file comment). */
export function createFailpoints(spec: string): Failpoints {
  const armed = new Map<string, Armed>();
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z.-]+)=([a-z]+)(?::(\d+))?(?:@(\d+)|%([0-9.]+))?$/.exec(part);
    if (!m || !(FAILPOINT_NAMES as readonly string[]).includes(m[1]!)) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `failpoint spec ${JSON.stringify(part)}`);
    }
    const kind = m[2]!;
    let action: Action;
    if (kind === 'delay') action = { kind, ms: Number(m[3] ?? 0) };
    else if (kind === 'kill' || kind === 'exit' || kind === 'throw' || kind === 'hang') action = { kind };
    else throw cairnError('CAIRN_ERR_CONFIG_INVALID', `failpoint action ${kind}`);
    const probability = m[5] === undefined ? undefined : Number(m[5]);
    if (probability !== undefined && !(probability >= 0 && probability <= 1)) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `failpoint probability ${m[5]}`);
    }
    armed.set(m[1]!, { action, nth: m[4] === undefined ? undefined : Number(m[4]), probability, hits: 0 });
  }
  const reached = new Map<string, number>();
  return {
    async hit(name) {
      reached.set(name, (reached.get(name) ?? 0) + 1);
      const a = armed.get(name);
      if (a === undefined) return;
      a.hits++;
      if (a.nth !== undefined && a.hits !== a.nth) return;
      if (a.probability !== undefined && Math.random() >= a.probability) return;
      switch (a.action.kind) {
        case 'kill':
          process.kill(process.pid, 'SIGKILL');
          return new Promise<void>(() => {});
        case 'exit':
          process.exit(86);
          break;
        case 'throw':
          throw cairnError('CAIRN_ERR_INTERNAL', `failpoint ${name}`);
        case 'hang':
          return new Promise<void>(() => {});
        case 'delay':
          await new Promise((r) => setTimeout(r, (a.action as { ms: number }).ms));
      }
    },
    counts() {
      return Object.fromEntries(reached);
    },
  };
}

/** Failpoints from the CAIRN_FAILPOINTS environment variable, or undefined when it is unset. */
export function failpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Failpoints | undefined {
  const spec = env.CAIRN_FAILPOINTS;
  return spec ? createFailpoints(spec) : undefined;
}
