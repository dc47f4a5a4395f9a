// Swift tempauth-compatible authentication: `GET /auth/v1.0` with
// X-Auth-User "account:user" and X-Auth-Key (or X-Storage-User /
// X-Storage-Pass) issues an expiring token; every other Swift request carries
// it in X-Auth-Token (or X-Storage-Token). A token is good for its own account
// only: another account's path gets 403; no token, an unknown or an expired
// one gets 401. Tokens live in memory (a restart logs clients out, as with a
// tempauth whose memcached restarted). setUsers() replaces the users at run
// time (configuration reload) and ends the tokens of removed users.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { cairnError } from '@cairn/errors';

/** One configured Swift user. */
export interface SwiftUser {
  /** Account name without the reseller prefix ("test" for AUTH_test). */
  readonly account: string;
  readonly user: string;
  readonly key: string;
}

export interface SwiftAuthOptions {
  readonly users: readonly SwiftUser[];
  /** Prefix of account names in storage URLs (default "AUTH_"). */
  readonly resellerPrefix?: string;
  /** Token lifetime in seconds (default 86400). */
  readonly tokenTtlSeconds?: number;
  /** Clock (ms since the epoch), for tests. */
  readonly now?: () => number;
}

/** What a valid token says about its holder. */
export interface SwiftIdentity {
  /** Full account name, with the reseller prefix (e.g. AUTH_test). */
  readonly account: string;
  readonly user: string;
  /** Expiry, ms since the epoch. */
  readonly expires: number;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 86_400;
/** Tokens kept at most; the oldest go first beyond it. */
const MAX_TOKENS = 100_000;

function keysEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Issues and checks tempauth-style tokens. */
export class SwiftAuth {
  readonly resellerPrefix: string;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly tokens = new Map<string, SwiftIdentity>();
  /** The user each token was issued to ("account:user"). */
  private readonly tokenUsers = new Map<string, SwiftUser>();
  private users: ReadonlyMap<string, SwiftUser>;

  constructor(opts: SwiftAuthOptions) {
    this.resellerPrefix = opts.resellerPrefix ?? 'AUTH_';
    const ttl = opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isFinite(ttl) || ttl <= 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `tokenTtlSeconds ${ttl}`);
    this.ttlMs = ttl * 1000;
    this.now = opts.now ?? Date.now;
    this.users = userTable(opts.users);
  }

  /**
   * Replaces the user table (a configuration reload). Tokens of users that
   * are gone, or whose key changed, stop working at once; other users stay
   * logged in. The whole table is checked first: a bad entry changes nothing.
   */
  setUsers(users: readonly SwiftUser[]): void {
    const next = userTable(users);
    this.users = next;
    for (const [token, u] of this.tokenUsers) {
      const now = next.get(`${u.account}:${u.user}`);
      if (now === undefined || !keysEqual(now.key, u.key)) this.revoke(token);
    }
  }

  /** True when `account:user` is configured here (otherwise auth may pass through to a backing Swift). */
  knowsUser(authUser: string): boolean {
    return this.users.has(authUser);
  }

  /**
   * Checks credentials and issues a token. Throws CAIRN_ERR_HTTP_UNAUTHORIZED
   * for an unknown user or a wrong key.
   */
  login(authUser: string | undefined, authKey: string | undefined): { token: string; identity: SwiftIdentity } {
    if (!authUser || !authKey) throw cairnError('CAIRN_ERR_HTTP_UNAUTHORIZED', 'X-Auth-User and X-Auth-Key are required');
    const u = this.users.get(authUser);
    if (!u || !keysEqual(u.key, authKey)) throw cairnError('CAIRN_ERR_HTTP_UNAUTHORIZED', 'wrong user or key');
    this.prune();
    const token = `AUTH_tk${randomBytes(16).toString('hex')}`;
    const identity: SwiftIdentity = { account: `${this.resellerPrefix}${u.account}`, user: u.user, expires: this.now() + this.ttlMs };
    this.tokens.set(token, identity);
    this.tokenUsers.set(token, u);
    return { token, identity };
  }

  /** The identity behind a token, or undefined when it is unknown or expired. */
  identify(token: string | undefined): SwiftIdentity | undefined {
    if (!token) return undefined;
    const id = this.tokens.get(token);
    if (!id) return undefined;
    if (id.expires <= this.now()) {
      this.revoke(token);
      return undefined;
    }
    return id;
  }

  /** True when `token` was issued here (valid or not): other tokens may belong to a backing Swift. */
  issuedHere(token: string | undefined): boolean {
    return token !== undefined && token.startsWith('AUTH_tk') && this.tokens.has(token);
  }

  /**
   * Authorizes a request on `account`: 401 without a valid token, 403 when the
   * token belongs to another account.
   */
  authorize(token: string | undefined, account: string): SwiftIdentity {
    const id = this.identify(token);
    if (!id) throw cairnError('CAIRN_ERR_HTTP_UNAUTHORIZED', token ? 'token is invalid or expired' : 'X-Auth-Token is required');
    if (id.account !== account) throw cairnError('CAIRN_ERR_HTTP_FORBIDDEN', `user ${id.user} of ${id.account} may not access ${account}`);
    return id;
  }

  /** Forgets a token (logout; used by tests). */
  revoke(token: string): void {
    this.tokens.delete(token);
    this.tokenUsers.delete(token);
  }

  private prune(): void {
    const now = this.now();
    for (const [t, id] of this.tokens) if (id.expires <= now) this.revoke(t);
    while (this.tokens.size >= MAX_TOKENS) {
      const oldest = this.tokens.keys().next().value;
      if (oldest === undefined) break;
      this.revoke(oldest);
    }
  }
}

/** Checks users and indexes them by "account:user". */
function userTable(users: readonly SwiftUser[]): Map<string, SwiftUser> {
  if (!Array.isArray(users)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'swift users must be a list');
  const out = new Map<string, SwiftUser>();
  for (const u of users) {
    if (!u || typeof u.account !== 'string' || typeof u.user !== 'string' || typeof u.key !== 'string'
      || !u.account || !u.user || u.account.includes(':') || u.account.includes('/')) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `swift user ${JSON.stringify(`${String(u?.account)}:${String(u?.user)}`)}`);
    }
    out.set(`${u.account}:${u.user}`, { account: u.account, user: u.user, key: u.key });
  }
  return out;
}
