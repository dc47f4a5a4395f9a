import { describe, expect, it } from 'vitest';
import { etagListMatches, evaluateConditions, evaluateConditionsMissing } from './conditional.js';

const etag = '0123456789abcdef0123456789abcdef';
const mtime = Date.parse('2024-05-01T12:00:00.750Z');

describe('conditional requests (RFC 9110 13.2.2)', () => {
  it('matches entity-tag lists with quotes, weak prefixes and *', () => {
    expect(etagListMatches(`"x", "${etag}"`, etag)).toBe(true);
    expect(etagListMatches(`W/"${etag}"`, etag)).toBe(true);
    expect(etagListMatches('*', etag)).toBe(true);
    expect(etagListMatches('"other"', etag)).toBe(false);
  });
  it('evaluates in the RFC order', () => {
    const t = (h: Record<string, string>, safe = true) => evaluateConditions(h, etag, mtime, safe);
    expect(t({})).toBe('proceed');
    expect(t({ 'if-match': '"nope"' })).toBe('precondition-failed');
    // If-Match true wins over a failing If-Unmodified-Since (S3 documents the same).
    expect(t({ 'if-match': etag, 'if-unmodified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' })).toBe('proceed');
    expect(t({ 'if-unmodified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' })).toBe('precondition-failed');
    // Same second as the mtime (fractions ignored): not modified since.
    expect(t({ 'if-unmodified-since': 'Wed, 01 May 2024 12:00:00 GMT' })).toBe('proceed');
    expect(t({ 'if-modified-since': 'Wed, 01 May 2024 12:00:00 GMT' })).toBe('not-modified');
    expect(t({ 'if-none-match': etag })).toBe('not-modified');
    expect(t({ 'if-none-match': etag }, false)).toBe('precondition-failed');
    // If-None-Match present: If-Modified-Since is not looked at.
    expect(t({ 'if-none-match': '"other"', 'if-modified-since': 'Thu, 01 May 2025 00:00:00 GMT' })).toBe('proceed');
    expect(t({ 'if-modified-since': 'not a date' })).toBe('proceed');
    expect(evaluateConditionsMissing({ 'if-match': '*' })).toBe('precondition-failed');
    expect(evaluateConditionsMissing({ 'if-none-match': '*' })).toBe('proceed');
  });
});
