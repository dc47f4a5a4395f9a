// How a test learns where the real services are. test/setup/services.ts (the
// vitest globalSetup) starts Swift and etcd through scripts/services.sh for the
// test files that need them and hands their settings over with `provide`; these
// helpers read them back (or, outside that setup, from SWIFT_* / S3_* /
// ETCD_ENDPOINTS in the environment, e.g. after `eval "$(scripts/services.sh env)"`).
//
// A suite that needs a service calls the helper by name at the top level, e.g.
//
//   const swift = swiftSettings();
//   describe.skipIf(!swift)('swift backend', () => { ... });
//
// The setup finds such suites by looking for these calls (swiftSettings(),
// s3Settings(), etcdEndpoints()) in the selected test files and the local modules
// they import, and starts only the services they use. When a service cannot be
// started the helper returns undefined and servicesUnavailableReason() says why
// (outside CI; under CI=true the run fails instead).

import { inject } from 'vitest';
import { settingsFromEnv } from '../setup/services.js';

export type ServiceName = 'swift' | 'etcd';

/** Swift with tempauth (v1): what createSwiftStore needs. */
export interface SwiftSettings {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly storageUrl: string;
  /** host:port of the memcached holding tempauth's tokens (lets tests revoke a token). */
  readonly memcached: string;
}

/** Swift's s3api: an S3 endpoint with SigV4 credentials. */
export interface S3Settings {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

/** What the globalSetup provides to every test file. */
export interface ServicesState {
  readonly swift?: SwiftSettings;
  readonly s3?: S3Settings;
  readonly etcd?: { readonly endpoints: readonly string[] };
  /** Why a service is not available, per service that is not. */
  readonly unavailable: Partial<Record<ServiceName, string>>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cairnServices: ServicesState;
  }
}

let cached: ServicesState | undefined;

function state(): ServicesState {
  if (cached) return cached;
  let provided: ServicesState | undefined;
  try {
    provided = inject('cairnServices');
  } catch {
    provided = undefined;
  }
  if (provided) {
    cached = provided;
  } else {
    const fromEnv = settingsFromEnv(process.env);
    const why = 'not set up by test/setup/services.ts and not in the environment (eval "$(scripts/services.sh env)")';
    cached = {
      ...fromEnv,
      unavailable: {
        ...(fromEnv.swift ? {} : { swift: why }),
        ...(fromEnv.etcd ? {} : { etcd: why }),
      },
    };
  }
  return cached;
}

/**
 * Under CI=true a suite must never be skipped for want of a service: the setup
 * already failed the run if a service it detected could not start, so a service
 * missing here means the setup did not see that this file needs it.
 */
function missing<T>(service: ServiceName): T | undefined {
  const ci = (process.env['CI'] ?? '').toLowerCase();
  if (ci === 'true' || ci === '1') {
    throw new Error(`${service} is not available under CI=true (${state().unavailable[service] ?? 'unknown reason'}); ` +
      'call the helper by name at the top level of the test file so that test/setup/services.ts sees it');
  }
  return undefined;
}

/** Swift (tempauth) settings, or undefined when Swift is not available to this run. */
export function swiftSettings(): SwiftSettings | undefined {
  return state().swift ?? missing('swift');
}

/** S3 settings (Swift's s3api), or undefined when Swift is not available to this run. */
export function s3Settings(): S3Settings | undefined {
  return state().s3 ?? missing('swift');
}

/** etcd client endpoints (http://127.0.0.1:12379), or undefined when etcd is not available. */
export function etcdEndpoints(): string[] | undefined {
  const e = state().etcd;
  return e ? [...e.endpoints] : missing('etcd');
}

/** Why `service` (or, without an argument, any service) is unavailable; undefined when it is available. */
export function servicesUnavailableReason(service?: ServiceName): string | undefined {
  const u = state().unavailable;
  if (service) return u[service];
  const parts = (Object.keys(u) as ServiceName[]).map((s) => `${s}: ${u[s]}`);
  return parts.length ? parts.join('; ') : undefined;
}
