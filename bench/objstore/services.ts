// Where the real Swift (tempauth) and its s3api are: from SWIFT_* / S3_* in the
// environment, else from `scripts/services.sh env swift` (which only reads the
// settings of a running Swift; it never starts one).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/report.js';

export interface SwiftSettings {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
}

export interface S3Settings {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

export interface Services {
  readonly swift?: SwiftSettings;
  readonly s3?: S3Settings;
  /** Why Swift/S3 settings are missing. */
  readonly why?: string;
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Services {
  const swift = env['SWIFT_AUTH_URL'] && env['SWIFT_USER'] && env['SWIFT_KEY']
    ? { authUrl: env['SWIFT_AUTH_URL'], user: env['SWIFT_USER'], key: env['SWIFT_KEY'] }
    : undefined;
  const s3 = env['S3_ENDPOINT'] && env['S3_ACCESS_KEY_ID'] && env['S3_SECRET_ACCESS_KEY']
    ? { endpoint: env['S3_ENDPOINT'], accessKeyId: env['S3_ACCESS_KEY_ID'], secretAccessKey: env['S3_SECRET_ACCESS_KEY'], region: env['S3_REGION'] ?? 'us-east-1' }
    : undefined;
  return { ...(swift ? { swift } : {}), ...(s3 ? { s3 } : {}) };
}

/** Settings of the running Swift and s3api, or why there are none. */
export function serviceSettings(): Services {
  const own = fromEnv(process.env);
  if (own.swift && own.s3) return own;
  let out: string;
  try {
    out = execFileSync('bash', [join(REPO_ROOT, 'scripts/services.sh'), 'env', 'swift'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000,
    });
  } catch {
    return { ...own, why: 'Swift is not running (start it with `npm run services -- start swift`, or set SWIFT_* and S3_*)' };
  }
  const env: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  const found = fromEnv(env);
  const merged = { ...found, ...own };
  return merged.swift && merged.s3 ? merged : { ...merged, why: 'scripts/services.sh printed no Swift/S3 settings' };
}
