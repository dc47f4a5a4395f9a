// @cairn/daemon — cairnd's building blocks (the entry point is main.ts).
//
// createDaemon() wires one daemon (tsyringe, see wiring.ts) from a validated
// configuration (loadConfig / validateConfig); its components start in order
// and stop in reverse (lifecycle.ts). Volume ownership goes through
// VolumeOwnership (ownership.ts). The CLI finds a local daemon through
// readRuntime / readCredentials.

export { runSelfCheck, type SelfCheckReport, type SelfCheckStep } from './selfcheck.js';
export { createDaemon, type Daemon, type DaemonOptions, type StartInfo } from './daemon.js';
export { loadConfig, validateConfig, parseConfigText, keyOfPath, type LoadedConfig } from './config/load.js';
export { configSchema, DEFAULT_MGMT_PORT, DEFAULT_OBJECT_PORT, DEFAULT_RPC_PORT, DEFAULT_VOLUME, type CairnConfig, type VolumeConfigEntry } from './config/schema.js';
export { ENV_OVERRIDES, CONFIG_ENV, type EnvOverride } from './config/env.js';
export { createLocalOwnership, type OwnershipLease, type OwnerRecord, type VolumeOwnership } from './ownership.js';
export { readCredentials, readRuntime, type RuntimeInfo, type StoredCredentials } from './local-state.js';
export { localPaths } from './paths.js';
export { banner } from './banner.js';
export { createLogger } from './logger.js';
