// cairnd — the Cairn daemon's entry point (`npm start`).
//
// Today it opens the configured object store (the embedded fs backend under
// ./data by default), runs the object-store self-check and reports. The filesystem,
// RPC, object and management APIs are wired here as their layers land.

import { resolve } from 'node:path';
import { pino } from 'pino';
import { createFsStore } from '@cairn/objstore';
import { runSelfCheck } from './selfcheck.js';

const dataDir = resolve(process.env['CAIRN_DATA_DIR'] ?? 'data');
const logger = pino({
  level: process.env['CAIRN_LOG_LEVEL'] ?? 'info',
  ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
});

async function main(): Promise<number> {
  const store = createFsStore({ root: resolve(dataDir, 'objects'), logger: logger.child({ component: 'objstore' }) });
  try {
    const report = await runSelfCheck(store);
    for (const s of report.steps) {
      logger[s.ok ? 'info' : 'error']({ step: s.step, ms: Number(s.ms.toFixed(2)), detail: s.detail }, s.ok ? 'self-check ok' : 'self-check FAILED');
    }
    logger.info({ backend: report.backend, dataDir, ok: report.ok }, report.ok ? 'object store ready' : 'object store self-check failed');
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    logger.fatal({ err }, 'cairnd failed to start');
    process.exitCode = 1;
  },
);
