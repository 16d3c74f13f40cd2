import { describe, expect, it } from 'vitest';
import { keyProblem, urlProblem } from '../../src/files/locators.ts';

describe('keys and URLs from the database', () => {
  it('object keys: only plain relative keys are read', () => {
    for (const ok of ['a', 'avatars/7/me.png', 'u/été/x y.txt', 'a..b/c.', '.hidden/x', 'x/...'])
      expect(keyProblem(ok), ok).toBeUndefined();
    expect(keyProblem('')).toBe('its key is empty');
    expect(keyProblem('/avatars/7/x')).toBe('its key starts with "/"');
    for (const dots of ['avatars/7/../8/x', 'avatars/7/./x', '../x', 'a/..', 'a/.'])
      expect(keyProblem(dots), dots).toBe('its key has a "." or ".." segment');
    for (const empty of ['avatars//x', 'avatars/7/', 'a/b//'])
      expect(keyProblem(empty), empty).toBe('its key has an empty segment');
    for (const control of ['a\u0000b', 'a\nb', 'a\u007fb', 'a\u0085b', 'a\rb'])
      expect(keyProblem(control), JSON.stringify(control)).toBe('its key holds a control character');
    expect(keyProblem('x'.repeat(1025))).toBe('its key is longer than S3 allows');
  });

  it('https URLs: no dot-segments (also encoded), no backslash, no control character or space', () => {
    for (const ok of [
      'https://cdn.example.com/u/7/a.png',
      'https://cdn.example.com/u/7/a.png?sig=..&x=/../',
      'https://cdn.example.com/a..b/c',
    ])
      expect(urlProblem(ok), ok).toBeUndefined();
    for (const dots of [
      'https://cdn.example.com/u/7/../8/a.png',
      'https://cdn.example.com/u/7/%2e%2E/8/a',
      'https://cdn.example.com/u/7/.%2e/8',
      'https://cdn.example.com/u/./a',
      'https://cdn.example.com/u/7/..',
    ]) {
      expect(urlProblem(dots), dots).toBe('its address has a "." or ".." segment');
    }
    expect(urlProblem('https://cdn.example.com/u/7\\..\\8/a')).toBe('its address holds a backslash');
    for (const control of [
      'https://cdn.example.com/u/7/a\tb',
      'https://cdn.example.com/u/7/a b',
      'https://cdn.example.com/u/\n7',
    ])
      expect(urlProblem(control), JSON.stringify(control)).toBe('its address holds a control character or a space');
  });
});
