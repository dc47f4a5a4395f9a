import { isCairnError } from '@cairn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseS3ErrorBody, s3ResponseError, s3TransportError } from './s3-errors.js';
import { MAX_XML_DEPTH, decodeXmlText, escapeXml, parseXml, xmlChildText, xmlChildren, type XmlElement } from './s3-xml.js';

interface Tree { name: string; text: string; children: Tree[] }

const nameArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}$/);
// XML 1.0 text: no control characters but tab/newline; no lone surrogates.
const textArb = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\r]/g, ''));
const treeArb: fc.Arbitrary<Tree> = fc.letrec((tie) => ({
  tree: fc.record({
    name: nameArb,
    text: textArb,
    children: fc.oneof({ depthSize: 'small' }, fc.constant<Tree[]>([]), fc.array(tie('tree') as fc.Arbitrary<Tree>, { maxLength: 3 })),
  }),
})).tree as fc.Arbitrary<Tree>;

function render(t: Tree, prefix: boolean): string {
  const n = prefix ? `s3:${t.name}` : t.name;
  return `<${n}>${escapeXml(t.text)}${t.children.map((c) => render(c, !prefix)).join('')}</${n}>`;
}

function shape(e: XmlElement): Tree {
  return { name: e.name, text: e.text, children: e.children.map(shape) };
}

describe('s3 xml reader', () => {
  it('parses what it is given back exactly (names without namespace prefix, text unescaped)', () => {
    fc.assert(fc.property(treeArb, fc.boolean(), (t, prefix) => {
      const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->${render(t, prefix)}\n`;
      expect(shape(parseXml(doc))).toEqual(t);
    }));
  });

  it('never throws anything but CAIRN_ERR_OBJ_BACKEND on arbitrary input', () => {
    const junk = fc.oneof(fc.string(), fc.array(fc.constantFrom('<', '>', '/', 'a', '&', ';', '"', '=', ' ', '?', '!', '[', ']', '-', 'amp', '#x41'), { maxLength: 40 }).map((a) => a.join('')));
    fc.assert(fc.property(junk, (s) => {
      try {
        parseXml(s);
      } catch (e) {
        expect(isCairnError(e, 'CAIRN_ERR_OBJ_BACKEND')).toBe(true);
      }
    }), { numRuns: 2000 });
  });

  it('refuses DOCTYPEs (no entity expansion), unknown entities, bad nesting and deep documents', () => {
    const bad = [
      '<!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>',
      '<a>&nbsp;</a>',
      '<a>&amp</a>',
      '<a>&#0;</a>',
      '<a>&#xD800;</a>',
      '<a><b></a></b>',
      '<a></a><b></b>',
      'text<a/>',
      '<a attr=unquoted></a>',
      '<a>',
      `${'<a>'.repeat(MAX_XML_DEPTH + 1)}${'</a>'.repeat(MAX_XML_DEPTH + 1)}`,
    ];
    for (const d of bad) expect(() => parseXml(d), d.slice(0, 30)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_OBJ_BACKEND' }));
  });

  it('decodes references, CDATA, attributes and self-closing elements', () => {
    const root = parseXml(`<r a='1 &lt; 2' b="x"><k>&#65;&#x1F600;&quot;&apos;</k><e/><c><![CDATA[<raw> & ]]></c></r>`);
    expect(root.attrs).toEqual({ a: '1 < 2', b: 'x' });
    expect(xmlChildText(root, 'k')).toBe('A\u{1F600}"\'');
    expect(xmlChildren(root, 'e')).toHaveLength(1);
    expect(xmlChildText(root, 'c')).toBe('<raw> & ');
    expect(decodeXmlText('plain')).toBe('plain');
  });
});

describe('s3 error mapping', () => {
  it('reads S3 error bodies, tolerating garbage', () => {
    expect(parseS3ErrorBody('<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message><RequestId>tx1</RequestId></Error>'))
      .toEqual({ code: 'NoSuchKey', message: 'gone', requestId: 'tx1' });
    expect(parseS3ErrorBody('<html>oops')).toEqual({});
    expect(parseS3ErrorBody('')).toEqual({});
  });

  it('falls back to the status when there is no body (HEAD)', () => {
    expect(s3ResponseError(404, {}, 'HEAD b/k', true).code).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
    expect(s3ResponseError(404, {}, 'GET b', false).code).toBe('CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND');
    expect(s3ResponseError(403, {}, 'HEAD b/k', true).code).toBe('CAIRN_ERR_OBJ_FORBIDDEN');
    expect(s3ResponseError(503, {}, 'x', true).retryable).toBe(true);
    expect(s3ResponseError(416, { code: 'InvalidRange' }, 'x', true).code).toBe('CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE');
    expect(s3ResponseError(503, { code: 'SlowDown' }, 'x', true).code).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(s3ResponseError(409, { code: 'ConditionalRequestConflict' }, 'x', true).code).toBe('CAIRN_ERR_OBJ_PRECONDITION_FAILED');
  });

  it('maps transport failures by their (possibly nested) codes', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    expect(s3TransportError(sys('ECONNRESET'), 'x', false).code).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(s3TransportError(Object.assign(new Error('wrapped'), { code: 'UND_ERR_SOCKET', cause: sys('EPIPE') }), 'x', false).code).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(s3TransportError(sys('UND_ERR_HEADERS_TIMEOUT'), 'x', false).code).toBe('CAIRN_ERR_OBJ_TIMEOUT');
    expect(s3TransportError(sys('ECONNREFUSED'), 'x', false).code).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(s3TransportError(sys('ECONNRESET'), 'x', true).code).toBe('CAIRN_ERR_CANCELED');
    expect(s3TransportError(new Error('weird'), 'x', false).code).toBe('CAIRN_ERR_OBJ_BACKEND');
  });
});
