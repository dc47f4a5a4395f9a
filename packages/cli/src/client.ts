// A small client of the management API (fetch). Errors carry the HTTP status
// and the CAIRN_ERR_* code of the answer.

import { EXIT, exitCodeOfStatus } from './exit-codes.js';
import type { Target } from './target.js';

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, readonly code?: string) {
    super(message);
  }
}

export class MgmtClient {
  constructor(private readonly target: Target, private readonly timeoutMs = 600_000) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.target.server) throw new CliError(`${this.target.from}; start one with "npm start", or give --server and --token`, EXIT.UNREACHABLE);
    let res: Response;
    try {
      res = await fetch(`${this.target.server}${path}`, {
        method,
        headers: {
          ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the daemon at ${this.target.server} (${cause})`, EXIT.UNREACHABLE);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new CliError(e?.message ?? `HTTP ${res.status}`, exitCodeOfStatus(res.status), e?.code);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

export const enc = encodeURIComponent;
