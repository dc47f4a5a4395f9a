// cairnd's logger: pino, pretty on a terminal (or when asked), JSON otherwise.
// Child loggers keep the level they were created with, so the root remembers
// its children (weakly) and setLogLevel() changes them all (SIGHUP).

import { pino, type Level, type Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';

const families = new WeakMap<Logger, Set<WeakRef<Logger>>>();

export function createLogger(log: CairnConfig['log'], isTTY = process.stdout.isTTY === true): Logger {
  const pretty = log.format === 'pretty' || (log.format === 'auto' && isTTY);
  const children = new Set<WeakRef<Logger>>();
  const root = pino({
    level: log.level,
    base: { pid: process.pid },
    onChild: (child) => {
      children.add(new WeakRef(child));
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
  families.set(root, children);
  return root;
}

/** Sets the level of `root` and of every child logger made from it. */
export function setLogLevel(root: Logger, level: Level | 'silent'): void {
  root.level = level;
  const children = families.get(root);
  if (!children) return;
  for (const ref of children) {
    const c = ref.deref();
    if (c) c.level = level;
    else children.delete(ref);
  }
}
