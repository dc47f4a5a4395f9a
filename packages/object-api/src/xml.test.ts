import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { child, childrenNamed, escapeXml, parseXml, textEl } from './xml.js';

describe('xml', () => {
  it('parses S3 request bodies with namespaces, entities, CDATA and comments', () => {
    const doc = parseXml(`<?xml version="1.0" encoding="UTF-8"?>
      <!-- a comment --><s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
      <Object><Key> a&amp;b &lt;c&gt; &#x263A;&#65;</Key></Object><Object><Key><![CDATA[x<y]]></Key></Object><Empty/></s3:Delete>`);
    expect(doc.name).toBe('Delete');
    expect(childrenNamed(doc, 'Object').map((o) => child(o, 'Key')!.text)).toEqual([' a&b <c> \u263aA', 'x<y']);
  });
  it('refuses DOCTYPE, mismatched tags and junk', () => {
    for (const bad of ['<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>', '<a><b></a></b>', '<a>', 'text', '<a></a><b></b>', '<a>&bogus;</a>', '<a x=1></a>', '']) {
      expect(() => parseXml(bad), bad).toThrow(/malformed XML/);
    }
  });
  it('escapes every string so that parsing gives it back (fuzz)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
      const clean = s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '');
      expect(parseXml(textEl('K', clean)).text).toBe(clean);
      expect(escapeXml(clean)).not.toMatch(/[<>&"](?![a-z#0-9]+;)/);
    }), { numRuns: 300 });
  });
});
