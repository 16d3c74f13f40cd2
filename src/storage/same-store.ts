/**
 * Whether two S3 addresses reach the same bucket of the same server, however
 * each is spelled. A file source that reads the export bucket could read
 * archives (another person's included), so the comparison must not be fooled
 * by spelling: `http://127.0.0.1:9000`, `http://LOCALHOST.:9000/` and
 * `http://[::1]:9000` are one server, as are `https://s3.amazonaws.com` and no
 * endpoint at all (buckets on AWS are one namespace, whatever the region), and
 * `https://exports.s3.example.com` names the bucket `exports` in its host
 * (virtual-hosted style) even where the setting's bucket says another.
 * Comparing resolved addresses through DNS is left out on purpose: keys under
 * S3_PREFIX are refused in any bucket of the export bucket's name anyway
 * (sources.ts), which covers two names of one host.
 */

export interface StoreAddress {
  /** The S3 endpoint; AWS when unset. */
  endpoint: string | undefined;
  bucket: string;
}

/** The server an endpoint reaches, spelled one way: scheme, host, explicit port and base path, or "aws". */
export function serverOf(endpoint: string | undefined): string {
  if (endpoint === undefined || endpoint.trim() === '') return 'aws';
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    return `unparsed:${endpoint.trim()}`;
  }
  const host = canonicalHost(url.hostname);
  if (host === 'aws') return 'aws';
  // The WHATWG parser already lower-cases the host, resolves dot-segments, and writes IPv4 (0x7f.1, 127.1) and IPv6 forms one way.
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  const base = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${host}:${port}${base}`;
}

/** Whether two addresses are one bucket of one server (a bucket named in the endpoint's host counts as the bucket). */
export function sameStore(a: StoreAddress, b: StoreAddress): boolean {
  // Each as set against every place the other may read (two hosts that both merely begin with a word are not one bucket).
  const reaches = (x: StoreAddress, y: StoreAddress) =>
    located(y).some((p) => p.server === serverOf(x.endpoint) && p.bucket === x.bucket.toLowerCase());
  return reaches(a, b) || reaches(b, a);
}

/**
 * Where an address may read: its server and bucket as set, and, where the
 * endpoint's host begins with a bucket's name (bucket.s3.amazonaws.com,
 * exports.minio.example.com), that bucket of the server the rest of the host
 * names: a path-style request there reads the host's bucket.
 */
function located(address: StoreAddress): { server: string; bucket: string }[] {
  const server = serverOf(address.endpoint);
  const places = [{ server, bucket: address.bucket.toLowerCase() }];
  if (!address.endpoint) return places;
  let url: URL;
  try {
    url = new URL(address.endpoint.trim());
  } catch {
    return places;
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  // An endpoint with a path (http://host/exports): a path-style request there is /exports/<bucket>/<key>, which the
  // server reads as bucket "exports", key "<bucket>/<key>": the path's first segment is a bucket it may read.
  const segment = url.pathname.split('/').find((p) => p !== '');
  if (segment) {
    const root = new URL(url.href);
    root.pathname = '/';
    places.push({ server: serverOf(root.href), bucket: decodeURIComponent(segment).toLowerCase() });
  }
  if (host.startsWith('[') || /^[\d.]+$/.test(host)) return places;
  const aws = /^(.+)\.s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/.exec(host);
  if (aws) return [...places, { server: 'aws', bucket: aws[1]! }];
  const dot = host.indexOf('.');
  if (dot > 0) {
    const rest = new URL(url.href);
    rest.hostname = host.slice(dot + 1);
    places.push({ server: serverOf(rest.href), bucket: host.slice(0, dot) });
  }
  return places;
}

/** A host as a server: every loopback spelling is one, every AWS S3 host is "aws". */
function canonicalHost(hostname: string): string {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '0.0.0.0') return 'loopback';
  // IPv6 loopback and unspecified, and IPv4-mapped loopback, as the URL parser writes them.
  if (
    host === '[::1]' ||
    host === '[::]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host) ||
    host === '[::ffff:0:0]'
  )
    return 'loopback';
  if (/(^|\.)amazonaws\.com(\.cn)?$/.test(host)) {
    // s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>…, s3.dualstack…: AWS S3; anything else at AWS (an access point, a VPC endpoint) is its own.
    return /(^|\.)s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/.test(host) ? 'aws' : host;
  }
  return host;
}
