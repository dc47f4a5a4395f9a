// XML for the S3 API and Swift's format=xml listings: escaping and building
// documents, and a small strict parser for the request bodies S3 clients send
// (CompleteMultipartUpload, Delete, CreateBucketConfiguration). The parser
// refuses DOCTYPE (no entity expansion), limits depth and size, and drops
// namespace prefixes from element names.

import { cairnError } from '@cairn/errors';

export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Largest XML request body accepted, bytes. */
export const MAX_XML_BODY = 1024 * 1024;
const MAX_DEPTH = 32;

/** Escapes text for element content and attribute values; characters XML 1.0 cannot carry become character references. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** `<name>escaped text</name>`; undefined values give ''. */
export function textEl(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name>children</name>` with children already rendered. */
export function el(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** A whole document with the XML declaration and the root element (with an xmlns when given). */
export function xmlDocument(root: string, children: readonly string[], ns?: string): string {
  const attr = ns ? ` xmlns="${escapeXml(ns)}"` : '';
  return `${XML_DECL}<${root}${attr}>${children.join('')}</${root}>`;
}

// ---- parsing -------------------------------------------------------------------------

/** A parsed element: local name (no prefix), child elements in order, and its text content. */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

function bad(msg: string): never {
  throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', msg);
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);?/g, (whole, ent: string) => {
    if (!whole.endsWith(';')) bad(`unterminated entity ${whole}`);
    if (ent[0] === '#') {
      const cp = ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      if (!Number.isFinite(cp) || cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) bad(`bad character reference ${whole}`);
      return String.fromCodePoint(cp);
    }
    switch (ent) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return bad(`unknown entity &${ent};`);
    }
  });
}

const NAME_RE = /^[A-Za-z_][\w.\-:]*/;

/** Parses an XML document into its root element. Throws CAIRN_ERR_S3_MALFORMED_XML. */
export function parseXml(input: string): XmlElement {
  if (input.length > MAX_XML_BODY) bad('document too large');
  let i = 0;
  const n = input.length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  if (input.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const lt = input.indexOf('<', i);
    const textEnd = lt === -1 ? n : lt;
    if (textEnd > i) {
      const raw = input.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(raw);
      else if (raw.trim().length > 0) bad('text outside the root element');
    }
    if (lt === -1) break;
    i = lt;
    if (input.startsWith('<?', i)) {
      const end = input.indexOf('?>', i + 2);
      if (end === -1) bad('unterminated processing instruction');
      i = end + 2;
    } else if (input.startsWith('<!--', i)) {
      const end = input.indexOf('-->', i + 4);
      if (end === -1) bad('unterminated comment');
      i = end + 3;
    } else if (input.startsWith('<![CDATA[', i)) {
      const end = input.indexOf(']]>', i + 9);
      if (end === -1) bad('unterminated CDATA');
      const top = stack[stack.length - 1];
      if (!top) bad('CDATA outside the root element');
      top.text += input.slice(i + 9, end);
      i = end + 3;
    } else if (input.startsWith('<!', i)) {
      bad('DOCTYPE and declarations are not accepted');
    } else if (input.startsWith('</', i)) {
      const end = input.indexOf('>', i + 2);
      if (end === -1) bad('unterminated end tag');
      const name = input.slice(i + 2, end).trim();
      const top = stack.pop();
      if (!top || localName(name) !== top.name) bad(`mismatched end tag </${name}>`);
      i = end + 1;
    } else {
      const m = NAME_RE.exec(input.slice(i + 1, i + 1 + 256));
      if (!m) bad('bad start tag');
      const name = localName(m[0]);
      let j = i + 1 + m[0].length;
      // Attributes: skipped, but their quoting must be well-formed.
      for (;;) {
        while (j < n && /\s/.test(input[j]!)) j++;
        if (j >= n) bad('unterminated start tag');
        if (input[j] === '>' || input.startsWith('/>', j)) break;
        const am = NAME_RE.exec(input.slice(j, j + 256));
        if (!am) bad('bad attribute');
        j += am[0].length;
        while (j < n && /\s/.test(input[j]!)) j++;
        if (input[j] !== '=') bad('attribute without a value');
        j++;
        while (j < n && /\s/.test(input[j]!)) j++;
        const q = input[j];
        if (q !== '"' && q !== "'") bad('unquoted attribute value');
        const close = input.indexOf(q, j + 1);
        if (close === -1) bad('unterminated attribute value');
        j = close + 1;
      }
      const selfClosing = input[j] === '/';
      const elem: XmlElement = { name, children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(elem);
      else if (root) bad('more than one root element');
      else root = elem;
      if (!selfClosing) {
        stack.push(elem);
        if (stack.length > MAX_DEPTH) bad('nested too deeply');
      }
      i = j + (selfClosing ? 2 : 1);
    }
  }
  if (stack.length > 0) bad(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (!root) bad('no root element');
  return root;
}

function localName(qname: string): string {
  const c = qname.indexOf(':');
  return c === -1 ? qname : qname.slice(c + 1);
}

/** The first child element called `name`, if any. */
export function child(e: XmlElement, name: string): XmlElement | undefined {
  return e.children.find((c) => c.name === name);
}

/** Every child element called `name`. */
export function childrenNamed(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name);
}

/** The text of the first child called `name` (untrimmed: keys may start or end with spaces), if any. */
export function childText(e: XmlElement, name: string): string | undefined {
  return child(e, name)?.text;
}
