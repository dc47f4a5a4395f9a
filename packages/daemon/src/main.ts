#!/usr/bin/env tsx
// cairnd — the Cairn daemon's entry point (`npm start`).
//
//   cairnd [--config FILE] [--self-check] [--help]
//
// Reads the configuration (--config, or $CAIRN_CONFIG; neither: the built-in
// defaults: the embedded fs backend under ./data with one volume), starts
// every component, prints where each API listens, and runs until SIGTERM or
// SIGINT (graceful shutdown). SIGHUP reloads the configuration file.
// --self-check only runs the object-store self-check and exits.

import { parseArgs } from 'node:util';
import { isCairnError } from '@cairn/errors';
import type { Logger } from 'pino';
import { banner } from './banner.js';
import { createBackend } from './backend.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { createDaemon } from './daemon.js';
import { createLogger } from './logger.js';
import { runSelfCheck } from './selfcheck.js';

const USAGE = `usage: cairnd [--config FILE] [--self-check]

  --config FILE   configuration file (YAML); default: $CAIRN_CONFIG, else built-in defaults
  --self-check    run the object-store self-check against the configured backend and exit
  --help          this text

Configuration keys, defaults and environment overrides: docs/configuration.md.
`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`cairnd: ${msg}\n`);
  process.exit(code);
}

async function selfCheck(loaded: LoadedConfig, logger: Logger): Promise<number> {
  const store = createBackend(loaded.config, logger);
  try {
    const r = await runSelfCheck(store);
    for (const s of r.steps) process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'}  ${s.step.padEnd(44)} ${s.ms.toFixed(1).padStart(8)} ms${s.detail ? `  ${s.detail}` : ''}\n`);
    process.stdout.write(`${r.ok ? 'self-check passed' : 'self-check FAILED'} (${r.backend} backend)\n`);
    return r.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string', short: 'c' }, 'self-check': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    return;
  }
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(args.values.config);
  } catch (err) {
    fail(isCairnError(err) ? `${err.code}: ${err.message}` : String(err));
  }
  const logger = createLogger(loaded.config.log);
  if (args.values['self-check']) {
    process.exitCode = await selfCheck(loaded, logger);
    return;
  }
  if (loaded.envUsed.length > 0) logger.info({ env: loaded.envUsed }, 'environment overrides applied');

  const daemon = createDaemon({ config: loaded.config, logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without finishing the shutdown');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.fatal({ timeoutMs: loaded.config.shutdown.timeoutMs }, 'graceful shutdown took too long; exiting');
      process.exit(1);
    }, loaded.config.shutdown.timeoutMs);
    timer.unref();
    daemon.stop().then(
      (failures) => {
        process.exitCode = failures.length === 0 ? 0 : 1;
        clearTimeout(timer);
      },
      (err: unknown) => {
        logger.fatal({ err }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    try {
      const next = loadConfig(args.values.config);
      daemon.reload(next.config).catch((err: unknown) => logger.error({ err }, 'reload failed'));
    } catch (err) {
      logger.error({ err }, 'reload refused: the configuration is invalid; keeping the running one');
    }
  });

  try {
    const info = await daemon.start();
    process.stdout.write(banner(info) + '\n');
  } catch (err) {
    logger.fatal({ err }, 'cairnd failed to start');
    process.exitCode = 1;
  }
}

void main();
