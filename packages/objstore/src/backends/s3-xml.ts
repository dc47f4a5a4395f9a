// A small, safe XML reader for S3 responses (ListObjectsV2 results and error
// bodies). It builds a tree of elements and nothing more: no DTDs (a document
// with <!DOCTYPE is refused, so there is no entity expansion to abuse), only the
// five predefined entities and numeric character references, bounded size and
// depth. Namespaces are ignored: an element is known by its local name.

import { cairnError } from '@cairn/errors';

/** Largest document accepted, in characters (a 1000-key listing is ~300 KiB). */
export const MAX_XML_CHARS = 8 * 1024 * 1024;
/** Deepest element nesting accepted (S3 documents are 3-4 levels deep). */
export const MAX_XML_DEPTH = 32;

export interface XmlElement {
  /** Local name (any `prefix:` removed). */
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** Character data directly inside this element (concatenated, entities decoded). */
  text: string;
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
const NAME_RE = /^[A-Za-z_:][\w.:-]*$/;

function bad(why: string): Error {
  return cairnError('CAIRN_ERR_OBJ_BACKEND', `malformed XML from S3: ${why}`);
}

/** Decodes entity and character references in text or an attribute value. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&]{0,12});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw bad(`unterminated reference ${JSON.stringify(whole)}`);
    if (ref.startsWith('#')) {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1);
      if (!(hex ? /^[0-9A-Fa-f]{1,6}$/ : /^[0-9]{1,7}$/).test(digits)) throw bad(`character reference &${ref};`);
      const cp = Number.parseInt(digits, hex ? 16 : 10);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) throw bad(`character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) throw bad(`unknown entity &${ref};`);
    return v;
  });
}

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

/** Parses one XML document into its root element. Throws CAIRN_ERR_OBJ_BACKEND when malformed. */
export function parseXml(doc: string): XmlElement {
  if (doc.length > MAX_XML_CHARS) throw bad(`document of ${doc.length} characters`);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const n = doc.length;
  if (doc.charCodeAt(0) === 0xfeff) i = 1;

  while (i < n) {
    const lt = doc.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const raw = doc.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeXmlText(raw);
      else if (raw.trim() !== '') throw bad('text outside the root element');
    }
    if (lt < 0) break;
    i = lt;
    if (doc.startsWith('<?', i)) {
      const end = doc.indexOf('?>', i + 2);
      if (end < 0) throw bad('unterminated processing instruction');
      i = end + 2;
    } else if (doc.startsWith('<!--', i)) {
      const end = doc.indexOf('-->', i + 4);
      if (end < 0) throw bad('unterminated comment');
      i = end + 3;
    } else if (doc.startsWith('<![CDATA[', i)) {
      const end = doc.indexOf(']]>', i + 9);
      if (end < 0) throw bad('unterminated CDATA section');
      const top = stack[stack.length - 1];
      if (!top) throw bad('CDATA outside the root element');
      top.text += doc.slice(i + 9, end);
      i = end + 3;
    } else if (doc.startsWith('<!', i)) {
      throw bad('DOCTYPE and other declarations are refused');
    } else if (doc.startsWith('</', i)) {
      const end = doc.indexOf('>', i + 2);
      if (end < 0) throw bad('unterminated end tag');
      const qname = doc.slice(i + 2, end).trim();
      const top = stack.pop();
      if (!top || localName(qname) !== top.name) throw bad(`unexpected end tag </${qname}>`);
      i = end + 1;
    } else {
      i = parseStartTag(doc, i, stack, (el) => {
        if (root) throw bad('more than one root element');
        root = el;
      });
    }
  }
  if (stack.length > 0) throw bad(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (!root) throw bad('no root element');
  return root;
}

/** Parses `<name attr="v" ...>` or `<name .../>` at i; returns the index after it. */
function parseStartTag(doc: string, i: number, stack: XmlElement[], setRoot: (el: XmlElement) => void): number {
  let j = i + 1;
  const n = doc.length;
  while (j < n && !/[\s/>]/.test(doc[j]!)) j++;
  const qname = doc.slice(i + 1, j);
  if (!NAME_RE.test(qname)) throw bad(`element name ${JSON.stringify(qname)}`);
  const attrs: Record<string, string> = {};
  for (;;) {
    while (j < n && /\s/.test(doc[j]!)) j++;
    if (j >= n) throw bad('unterminated start tag');
    const c = doc[j]!;
    if (c === '>' || (c === '/' && doc[j + 1] === '>')) break;
    const eq = doc.indexOf('=', j);
    if (eq < 0) throw bad('attribute without a value');
    const aname = doc.slice(j, eq).trim();
    if (!NAME_RE.test(aname)) throw bad(`attribute name ${JSON.stringify(aname)}`);
    let k = eq + 1;
    while (k < n && /\s/.test(doc[k]!)) k++;
    const quote = doc[k];
    if (quote !== '"' && quote !== "'") throw bad('unquoted attribute value');
    const close = doc.indexOf(quote, k + 1);
    if (close < 0) throw bad('unterminated attribute value');
    const value = doc.slice(k + 1, close);
    if (value.includes('<')) throw bad('"<" in an attribute value');
    attrs[localName(aname)] = decodeXmlText(value);
    j = close + 1;
  }
  const selfClosing = doc[j] === '/';
  const el: XmlElement = { name: localName(qname), attrs, children: [], text: '' };
  const parent = stack[stack.length - 1];
  if (parent) parent.children.push(el);
  else setRoot(el);
  if (!selfClosing) {
    if (stack.length >= MAX_XML_DEPTH) throw bad(`nesting deeper than ${MAX_XML_DEPTH}`);
    stack.push(el);
  }
  return j + (selfClosing ? 2 : 1);
}

/** The first child element with this local name. */
export function xmlChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** Every child element with this local name, in document order. */
export function xmlChildren(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** Text of the first child element with this local name (undefined when absent). */
export function xmlChildText(el: XmlElement, name: string): string | undefined {
  return xmlChild(el, name)?.text;
}

/** Escapes text for an XML element body (used for the few request documents we send). */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ESCAPES[c]!);
}
