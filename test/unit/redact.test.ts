import { describe, expect, it } from 'vitest';
import { publicErrorText } from '../../src/public-error.ts';
import { linkForLog, redact, registerSecret } from '../../src/redact.ts';

describe('redact', () => {
  it('removes the password of a connection URL, keeps the rest', () => {
    expect(redact('connect postgres://app:s3cr3t-p%40ss@db.internal:5432/app failed')).toBe(
      'connect postgres://app:***@db.internal:5432/app failed',
    );
  });

  it('removes the signature, credential and session token of a presigned URL', () => {
    const url =
      'https://b.s3.amazonaws.com/k.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T000000Z&X-Amz-Expires=604800&X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F&X-Amz-Signature=0123456789abcdef0123456789abcdef&X-Amz-SignedHeaders=host';
    const out = redact(`{"url":"${url}"}`);
    expect(out).not.toContain('0123456789abcdef');
    expect(out).not.toContain('AKIAEXAMPLE');
    expect(out).not.toContain('FwoGZXIvYXdzEJr');
    expect(out).toContain('X-Amz-Expires=604800');
  });

  it('removes a registered secret wherever it appears', () => {
    registerSecret('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(redact('secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in a stack')).toBe('secret=*** in a stack');
  });

  it('a link is logged without its query string', () => {
    expect(linkForLog('https://h/b/k.zip?X-Amz-Signature=abc')).toBe('https://h/b/k.zip?…');
  });
});

describe('the error stored on a request', () => {
  it('is short and holds no URL, credential, query or stack', () => {
    const nasty = Object.assign(
      new Error(
        `connect to postgres://app:hunter2@db:5432/app failed at https://bucket.s3.amazonaws.com/x?X-Amz-Signature=abcd select * from users ${'x'.repeat(5000)}`,
      ),
      { code: 'ECONNREFUSED' },
    );
    const text = publicErrorText(nasty, 'building the export');
    expect(text).toBe('network error while building the export (ECONNREFUSED)');
    expect(text.length).toBeLessThanOrEqual(200);
  });

  it('names S3 and database errors by their code only', () => {
    expect(
      publicErrorText(
        Object.assign(new Error('The specified bucket does not exist: https://x'), {
          name: 'NoSuchBucket',
          $metadata: {},
        }),
        'uploading',
      ),
    ).toBe('storage error while uploading (NoSuchBucket)');
    expect(
      publicErrorText(
        Object.assign(new Error('relation "users" does not exist'), { code: '42P01', severity: 'ERROR' }),
        'reading',
      ),
    ).toBe('database error while reading (42P01)');
    expect(publicErrorText(new TypeError('x is undefined at /srv/app/src/x.ts:10'), 'reading')).toBe(
      'internal error while reading (TypeError)',
    );
  });
});
