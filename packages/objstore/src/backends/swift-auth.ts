// Authentication for the Swift backend: gets a token and the storage URL it is
// good for, keeps them, refreshes them before they expire, and forgets a token
// Swift refused (SwiftHttp then authenticates again once).
//
//   v1 (tempauth, swauth): GET authUrl with X-Auth-User / X-Auth-Key; the answer
//      carries X-Storage-Url, X-Auth-Token and (tempauth) X-Auth-Token-Expires.
//   v3 (Keystone password auth): POST {authUrl}/auth/tokens with a password
//      identity scoped to a project; the token is in X-Subject-Token and the
//      storage URL is the catalog's object-store endpoint. NOTE: v3 is checked
//      only against a local imitation in the unit tests, never a real Keystone.
//
// Concurrent callers share one authentication in flight. The token and the key
// never appear in errors or logs.

import type { Readable } from 'node:stream';
import { cairnError, type CairnError } from '@cairn/errors';
import type { Dispatcher } from 'undici';
import { isRetryableStatus, redact, swiftStatusError } from './swift-errors.js';
import { drainBody, readBody, sendOnce, targetOf, type SessionSource, type SwiftCounters, type SwiftSession } from './swift-http.js';
import type { ResolvedSwiftOptions } from './swift-options.js';
import { abortable, backoffDelay, sleep } from './swift-retry.js';

/** Refresh a token this long before the expiry the auth service announced. */
const REFRESH_MARGIN_MS = 60_000;
/** Tokens kept for redaction after they were replaced. */
const REMEMBERED_TOKENS = 8;

interface Held extends SwiftSession {
  /** ms since the epoch; undefined when the service did not say. */
  readonly expiresAt: number | undefined;
}

export class SwiftAuth implements SessionSource {
  private held: Held | undefined;
  private inFlight: Promise<Held> | undefined;
  private readonly oldTokens: string[] = [];
  /** Authentications performed (tests and stats). */
  authentications = 0;

  constructor(
    private readonly o: ResolvedSwiftOptions,
    private readonly agent: Dispatcher,
    private readonly counters: SwiftCounters,
    private readonly now: () => number = Date.now,
  ) {}

  async get(signal?: AbortSignal): Promise<SwiftSession> {
    const h = this.held;
    if (h && (h.expiresAt === undefined || h.expiresAt - this.now() > REFRESH_MARGIN_MS)) return h;
    // One authentication in flight, shared; a caller's signal only stops its own wait.
    this.inFlight ??= this.authenticate().finally(() => {
      this.inFlight = undefined;
    });
    return signal ? abortable(this.inFlight, signal) : this.inFlight;
  }

  invalidate(token: string): void {
    if (this.held?.token === token) this.held = undefined;
  }

  secrets(): readonly string[] {
    return [this.o.key, ...(this.held ? [this.held.token] : []), ...this.oldTokens];
  }

  private remember(h: Held): void {
    if (this.held && this.held.token !== h.token) {
      this.oldTokens.push(this.held.token);
      if (this.oldTokens.length > REMEMBERED_TOKENS) this.oldTokens.shift();
    }
    this.held = h;
  }

  private async authenticate(): Promise<Held> {
    const what = `auth v${this.o.authVersion} as ${this.o.user}`;
    const { maxAttempts } = this.o.retry;
    let last: CairnError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (last) {
        const delay = backoffDelay(attempt - 1, this.o.retry, this.o.random);
        this.counters.retries++;
        this.o.logger.warn({ what, retry: attempt - 1, delayMs: delay, why: redact(last.message, this.secrets()) }, 'swift: retrying');
        await sleep(delay);
      }
      try {
        const h = this.o.authVersion === 1 ? await this.authV1(what) : await this.authV3(what);
        this.authentications++;
        this.remember(h);
        this.o.logger.debug({ storageUrl: h.storageUrl.href, expiresAt: h.expiresAt }, 'swift: authenticated');
        return h;
      } catch (err) {
        last = err as CairnError;
        if (!last.retryable) throw last;
      }
    }
    throw last ?? cairnError('CAIRN_ERR_INTERNAL', `${what}: no attempt made`);
  }

  private async authV1(what: string): Promise<Held> {
    const res = await sendOnce(this.agent, {
      url: targetOf(this.o.authUrl),
      method: 'GET',
      headers: { 'x-auth-user': this.o.user, 'x-auth-key': this.o.key },
      what,
      timeoutMs: this.o.requestTimeoutMs,
    }, this.counters);
    if (res.status !== 200 && res.status !== 204) throw await this.refused(what, res.status, res.body, res.headers);
    await drainBody(res.body, 0);
    const token = res.headers['x-auth-token'] ?? res.headers['x-storage-token'];
    const storage = res.headers['x-storage-url'];
    if (!token || (!storage && !this.o.storageUrl)) {
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: answer lacks X-Auth-Token or X-Storage-Url`);
    }
    const expiresIn = Number(res.headers['x-auth-token-expires']);
    return {
      token,
      storageUrl: this.o.storageUrl ?? parseStorageUrl(storage!, what),
      expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? this.now() + expiresIn * 1000 : undefined,
    };
  }

  private async authV3(what: string): Promise<Held> {
    const base = this.o.authUrl.href.replace(/\/+$/, '');
    const url = new URL(base.endsWith('/auth/tokens') ? base : `${base}/auth/tokens`);
    const body = Buffer.from(JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: this.o.user, domain: { name: this.o.userDomainName }, password: this.o.key } },
        },
        scope: { project: { name: this.o.projectName, domain: { name: this.o.projectDomainName } } },
      },
    }));
    const res = await sendOnce(this.agent, {
      url: targetOf(url),
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
      what,
      timeoutMs: this.o.requestTimeoutMs,
    }, this.counters);
    if (res.status !== 201 && res.status !== 200) throw await this.refused(what, res.status, res.body, res.headers);
    const token = res.headers['x-subject-token'];
    const doc = parseJson(await readBody(res.body, what, this.counters, 16 * 1024 * 1024), what) as KeystoneTokenDoc;
    if (!token) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: answer lacks X-Subject-Token`);
    const expiresAt = doc.token?.expires_at ? Date.parse(doc.token.expires_at) : NaN;
    let storageUrl = this.o.storageUrl;
    if (!storageUrl) {
      const endpoint = pickEndpoint(doc, this.o.endpointInterface, this.o.region);
      if (!endpoint) {
        throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${what}: the catalog has no ${this.o.endpointInterface} object-store endpoint${this.o.region ? ` in region ${this.o.region}` : ''}`);
      }
      storageUrl = parseStorageUrl(endpoint, what);
    }
    return { token, storageUrl, expiresAt: Number.isNaN(expiresAt) ? undefined : expiresAt };
  }

  /** The error for a refused or failed authentication (401/403: bad credentials, not retryable). */
  private async refused(what: string, status: number, body: Readable, headers: Record<string, string>): Promise<CairnError> {
    this.counters.errors++;
    const text = redact(await drainBody(body), this.secrets());
    if (status === 401 || status === 403) return cairnError('CAIRN_ERR_OBJ_UNAUTHORIZED', `${what}: HTTP ${status}`, { details: { status } });
    const transId = headers['x-trans-id'];
    if (isRetryableStatus(status)) return swiftStatusError(what, 'account', { status, body: text, ...(transId ? { transId } : {}) });
    return cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: HTTP ${status}`, { details: { status, ...(transId ? { transId } : {}) } });
  }
}

interface KeystoneTokenDoc {
  token?: {
    expires_at?: string;
    catalog?: Array<{ type?: string; endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }> }>;
  };
}

function pickEndpoint(doc: KeystoneTokenDoc, iface: string, region: string | undefined): string | undefined {
  for (const svc of doc.token?.catalog ?? []) {
    if (svc.type !== 'object-store') continue;
    for (const ep of svc.endpoints ?? []) {
      if (ep.interface !== iface || !ep.url) continue;
      if (region !== undefined && ep.region !== region && ep.region_id !== region) continue;
      return ep.url;
    }
  }
  return undefined;
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: answer is not JSON`, { cause: err });
  }
}

function parseStorageUrl(s: string, what: string): URL {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u;
  } catch {
    // fall through
  }
  throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: storage URL ${JSON.stringify(s)} is not an http(s) URL`);
}
