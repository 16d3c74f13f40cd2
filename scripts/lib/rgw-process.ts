/**
 * Runs a throwaway one-node Ceph cluster with a RADOS Gateway (Debian's
 * `radosgw`, `ceph-mon`, `ceph-osd`; no Docker): one monitor, one in-memory
 * OSD, one gateway, cephx off, everything under a temporary directory on
 * loopback ports. Prints `{"endpoint", "accessKeyId", "secretAccessKey",
 * "kmsKeyIds"}` on stdout once the S3 API answers, and tears the cluster down
 * when its stdin closes (so it never outlives the process that started it).
 *
 * Why this server: unlike s3rver it checks SigV4 signatures (headers and
 * presigned queries, expiry included), stores `aws:kms` encryption and
 * Content-Disposition, and lists multipart uploads with their real
 * initiation times. Ceph 16 accepts `AES256` but stores nothing for it, so
 * SSE is asserted with `aws:kms` and a test key from the `testing` KMS backend.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);
const dir = await mkdtemp(path.join(os.tmpdir(), 'exporter-rgw-'));
const daemons: ChildProcess[] = [];

let stopping: Promise<void> | undefined;
const stop = (code = 0) =>
  (stopping ??= (async () => {
    for (const d of daemons.reverse()) d.kill('SIGKILL'); // in-memory store: nothing to flush
    await Promise.all(
      daemons.map((d) =>
        d.exitCode === null && d.signalCode === null ? new Promise((r) => d.once('exit', r)) : undefined,
      ),
    );
    await rm(dir, { recursive: true, force: true });
    process.exit(code);
  })());
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();

try {
  const started = await startCluster();
  process.stdout.write(`${JSON.stringify(started)}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String((error as Error)?.stack ?? error) })}\n`);
  await stop(1);
}

async function startCluster() {
  const fsid = randomUUID();
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const kmsKeyIds = ['testkey-1', 'testkey-2'];
  const kmsKeys = kmsKeyIds.map((id) => `${id}=${randomBytes(32).toString('base64')}`).join(' ');
  for (const sub of ['run', 'log', 'crash', 'mon', 'osd', 'rgw']) await mkdir(path.join(dir, sub));
  const conf = path.join(dir, 'ceph.conf');
  await writeFile(
    conf,
    `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
public network = 127.0.0.1/32
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
crash dir = ${dir}/crash
mon data = ${dir}/mon
osd data = ${dir}/osd
# Without crc the gateway retries the monitor forever.
ms mon client mode = crc
# Startup 13 s -> about 1 s.
paxos propose interval = 0.01
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# The ratios must be in order, or the cluster reports an error.
mon osd nearfull ratio = .95
mon osd backfillfull ratio = .96
mon osd full ratio = .97
osd failsafe full ratio = .99
osd objectstore = memstore
memstore device bytes = ${8 * 1024 ** 3}
osd max object name len = 460
osd max object namespace len = 64

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = ${kmsKeys}
`,
  );
  const c = ['-c', conf];
  await run('monmaptool', [
    '--create',
    '--addv',
    'a',
    `[v2:127.0.0.1:${monPort}]`,
    '--fsid',
    fsid,
    path.join(dir, 'monmap'),
  ]);
  await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap')]);
  daemon('ceph-mon', [...c, '-i', 'a', '-f']);
  const osdId = (await retry(() => run('ceph', [...c, '--connect-timeout', '5', 'osd', 'create']))).stdout.trim();
  await run('ceph-osd', [...c, '-i', osdId, '--mkfs']);
  daemon('ceph-osd', [...c, '-i', osdId, '-f']);
  daemon('radosgw', [...c, '-n', 'client.rgw', '-f']);
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  await retry(async () => {
    const res = await fetch(endpoint);
    if (!res.ok) throw new Error(`radosgw answered ${res.status}`);
  });
  const accessKeyId = `RGW${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  await run('radosgw-admin', [
    ...c,
    'user',
    'create',
    '--uid=exporter-test',
    '--display-name=exporter test',
    `--access-key=${accessKeyId}`,
    `--secret=${secretAccessKey}`,
  ]);
  return { endpoint, accessKeyId, secretAccessKey, kmsKeyIds };
}

function daemon(command: string, args: string[]): void {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  child.once('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`rgw-process: ${command} exited (${code ?? signal}) ${stderr}\n`);
      void stop(1);
    }
  });
  daemons.push(child);
}

async function retry<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
