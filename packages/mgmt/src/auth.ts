// Bearer-token authorization of the management API. The admin token may do
// everything; read tokens may only use GET/HEAD (monitoring). Tokens are
// compared as SHA-256 digests in constant time. Health checks and the OpenAPI
// documentation need no token.

import { createHash, timingSafeEqual } from 'node:crypto';
import { cairnError } from '@cairn/errors';

export type Role = 'admin' | 'read';

export interface TokenSet {
  readonly adminToken: string;
  readonly readTokens: readonly string[];
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class TokenAuth {
  private admin: Buffer = Buffer.alloc(32);
  private read: Buffer[] = [];

  constructor(tokens: TokenSet) {
    this.set(tokens);
  }

  /** Replaces the tokens (SIGHUP). */
  set(tokens: TokenSet): void {
    if (tokens.adminToken.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'mgmt.adminToken must not be empty');
    this.admin = digest(tokens.adminToken);
    this.read = tokens.readTokens.map(digest);
  }

  /** The role of an Authorization header value, or undefined. */
  roleOf(header: string | undefined): Role | undefined {
    if (header === undefined) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return undefined;
    const d = digest(m[1]!);
    if (timingSafeEqual(d, this.admin)) return 'admin';
    let read = false;
    for (const r of this.read) read = timingSafeEqual(d, r) || read;
    return read ? 'read' : undefined;
  }

  /** Throws 401 without a valid token and 403 when a read token tries a mutation. */
  check(header: string | undefined, method: string): Role {
    const role = this.roleOf(header);
    if (role === undefined) throw cairnError('CAIRN_ERR_MGMT_UNAUTHORIZED', header === undefined ? 'no Authorization header' : 'unknown token');
    if (role === 'read' && method !== 'GET' && method !== 'HEAD') throw cairnError('CAIRN_ERR_MGMT_FORBIDDEN', `${method} needs the admin token`);
    return role;
  }
}

/** Paths that need no token. */
export function isPublicPath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path === '/healthz' || path === '/readyz' || path === '/docs' || path.startsWith('/docs/');
}
