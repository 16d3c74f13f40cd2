import { describe, expect, it } from 'vitest';
import { sameStore, serverOf } from '../../src/storage/same-store.ts';

const at = (endpoint: string | undefined, bucket = 'exports') => ({ endpoint, bucket });

describe('one store, however it is spelled', () => {
  it('every spelling of one server is that server: case, trailing dot and slash, loopback names and addresses, IPv6 forms, default ports', () => {
    const loopback = [
      'http://127.0.0.1:9000',
      'http://127.0.0.1:9000/',
      'http://127.0.0.1:9000//',
      'http://localhost:9000',
      'http://LOCALHOST:9000/',
      'http://localhost.:9000',
      'http://s3.localhost:9000',
      'http://127.1:9000',
      'http://0x7f.0.0.1:9000',
      'http://2130706433:9000',
      'http://127.0.0.2:9000',
      'http://0.0.0.0:9000',
      'http://[::1]:9000',
      'http://[0:0:0:0:0:0:0:1]:9000',
      'http://[::ffff:127.0.0.1]:9000',
      ' http://127.0.0.1:9000 ',
    ];
    for (const spelling of loopback) expect(serverOf(spelling), spelling).toBe('http://loopback:9000');
    expect(serverOf('http://minio')).toBe(serverOf('http://MINIO:80/'));
    expect(serverOf('https://minio.example.com')).toBe(serverOf('https://Minio.Example.COM.:443'));
    expect(serverOf('http://minio/s3/')).toBe(serverOf('http://minio:80/s3'));
    // AWS: no endpoint, the global one and a regional one are one namespace of buckets.
    for (const aws of [
      undefined,
      '',
      'https://s3.amazonaws.com',
      'https://s3.eu-west-1.amazonaws.com/',
      'https://s3-eu-west-1.amazonaws.com',
      'https://s3.dualstack.us-east-1.amazonaws.com',
    ]) {
      expect(serverOf(aws), String(aws)).toBe('aws');
    }
  });

  it('other servers are other stores: another port, scheme, host or base path', () => {
    expect(sameStore(at('http://127.0.0.1:9000'), at('http://127.0.0.1:9001'))).toBe(false);
    expect(sameStore(at('http://minio:9000'), at('https://minio:9000'))).toBe(false);
    expect(sameStore(at('http://minio-a:9000'), at('http://minio-b:9000'))).toBe(false);
    expect(sameStore(at('http://minio/a', 'x'), at('http://minio/b', 'y'))).toBe(false);
    expect(sameStore(at('https://r2.example.com'), at(undefined))).toBe(false);
    // Two hosts that merely begin with the same word are not one bucket.
    expect(
      sameStore(at('http://minio.example.com:9000', 'uploads'), at('http://minio.example.com:9000', 'exports')),
    ).toBe(false);
  });

  it('a bucket is the same bucket by any name of its server, and where a host names it (virtual-hosted style)', () => {
    expect(sameStore(at('http://localhost:9000/', 'exports'), at('http://127.0.0.1:9000', 'exports'))).toBe(true);
    expect(sameStore(at('http://[::1]:9000', 'Exports'), at('http://127.0.0.1:9000', 'exports'))).toBe(true);
    expect(sameStore(at('https://s3.amazonaws.com', 'exports'), at(undefined, 'exports'))).toBe(true);
    expect(sameStore(at('https://exports.s3.eu-west-1.amazonaws.com', 'anything'), at(undefined, 'exports'))).toBe(
      true,
    );
    expect(
      sameStore(at('https://my.exports.s3.amazonaws.com', 'x'), at('https://s3.amazonaws.com', 'my.exports')),
    ).toBe(true);
    expect(
      sameStore(at('http://exports.minio.example.com:9000', 'uploads'), at('http://minio.example.com:9000', 'exports')),
    ).toBe(true);
    expect(
      sameStore(at('http://minio.example.com:9000', 'exports'), at('http://exports.minio.example.com:9000', 'uploads')),
    ).toBe(true);
    // An endpoint with a path: path-style, its first segment is read as the bucket (http://host/exports/archives/key).
    expect(sameStore(at('http://127.0.0.1:9000/exports', 'archives'), at('http://127.0.0.1:9000', 'exports'))).toBe(
      true,
    );
    expect(sameStore(at('http://localhost:9000/exports/', 'anything'), at('http://127.0.0.1:9000/', 'exports'))).toBe(
      true,
    );
  });
});
