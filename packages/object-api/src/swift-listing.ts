// Swift listing bodies: format=json | xml | plain (or the Accept header), for
// containers (objects and subdir entries) and accounts (containers).

import type { FastifyRequest } from 'fastify';
import { escapeXml, textEl, XML_DECL } from './xml.js';

export type ListingFormat = 'json' | 'xml' | 'plain';

/** The format a Swift client asked for: ?format=, else Accept, else plain. */
export function listingFormat(req: FastifyRequest, query: URLSearchParams): ListingFormat {
  const f = (query.get('format') ?? '').toLowerCase();
  if (f === 'json' || f === 'xml' || f === 'plain') return f;
  const accept = String(req.headers.accept ?? '');
  if (/application\/json/.test(accept)) return 'json';
  if (/(application|text)\/xml/.test(accept)) return 'xml';
  return 'plain';
}

export const LISTING_CONTENT_TYPES: Readonly<Record<ListingFormat, string>> = {
  json: 'application/json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  plain: 'text/plain; charset=utf-8',
};

/** Swift's last_modified form: ISO 8601 with microseconds and no zone. */
export function swiftListingDate(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  return `${iso.slice(0, 19)}.${String(Math.floor(ms % 1000) * 1000).padStart(6, '0')}`;
}

export type ContainerListingEntry =
  | { readonly name: string; readonly bytes: number; readonly hash: string; readonly lastModifiedMs: number; readonly contentType: string }
  | { readonly subdir: string };

/** Renders a container listing; undefined body means 204 (plain, nothing listed). */
export function renderContainerListing(container: string, entries: readonly ContainerListingEntry[], format: ListingFormat): string | undefined {
  if (format === 'json') {
    return JSON.stringify(entries.map((e) => ('subdir' in e
      ? { subdir: e.subdir }
      : { name: e.name, bytes: e.bytes, hash: e.hash, last_modified: swiftListingDate(e.lastModifiedMs), content_type: e.contentType })));
  }
  if (format === 'xml') {
    const items = entries.map((e) => ('subdir' in e
      ? `<subdir name="${escapeXml(e.subdir)}">${textEl('name', e.subdir)}</subdir>`
      : `<object>${textEl('name', e.name)}${textEl('hash', e.hash)}${textEl('bytes', e.bytes)}${textEl('content_type', e.contentType)}${textEl('last_modified', swiftListingDate(e.lastModifiedMs))}</object>`));
    return `${XML_DECL}<container name="${escapeXml(container)}">${items.join('')}</container>`;
  }
  if (entries.length === 0) return undefined;
  return entries.map((e) => `${'subdir' in e ? e.subdir : e.name}\n`).join('');
}

export interface AccountListingEntry {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
  readonly lastModifiedMs: number;
}

/** Renders an account listing; undefined body means 204. */
export function renderAccountListing(account: string, entries: readonly AccountListingEntry[], format: ListingFormat): string | undefined {
  if (format === 'json') {
    return JSON.stringify(entries.map((e) => ({ name: e.name, count: e.count, bytes: e.bytes, last_modified: swiftListingDate(e.lastModifiedMs) })));
  }
  if (format === 'xml') {
    const items = entries.map((e) => `<container>${textEl('name', e.name)}${textEl('count', e.count)}${textEl('bytes', e.bytes)}${textEl('last_modified', swiftListingDate(e.lastModifiedMs))}</container>`);
    return `${XML_DECL}<account name="${escapeXml(account)}">${items.join('')}</account>`;
  }
  if (entries.length === 0) return undefined;
  return entries.map((e) => `${e.name}\n`).join('');
}
