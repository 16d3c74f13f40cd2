import { createCipheriv, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createDeflateRaw, deflateRawSync } from 'node:zlib';

/**
 * The viewer's data (the person's rows, the overview, the list of their
 * files) is sealed: deflated, then encrypted with AES-256-GCM under a key
 * made for this one archive, which only index.html holds (a `<meta>` the page
 * reads). Why: browsers refuse fetch() of a local file, so the data reaches
 * the page as scripts, and a classic script loads across file:// origins. A
 * page the person opens from the unpacked folder that is not the archive's own
 * index.html (an HTML or SVG file someone else uploaded into a project the
 * person belongs to) could load those scripts and be handed the rows. Sealed,
 * what it can load is noise; the key is in index.html, which another file://
 * page cannot read (every browser in use gives each local file an origin of
 * its own). README: the viewer; docs/architecture.md.
 *
 * A data script is one call, `exporterViewer.sealed("<base64>")`, whose bytes
 * are the 12-byte IV, the ciphertext and the 16-byte tag. Its plaintext is a
 * list of sections, each a JSON line saying what it is and how many bytes
 * follow (`{"kind":"rows","entity":"projects","bytes":1234}`), then those
 * bytes: an entity's JSON lines as they are in json/, or a JSON text.
 */

export const KEY_BYTES = 32;
const IV_BYTES = 12;

/** What one section of a data script holds. */
export type SectionHeader = { kind: 'rows'; entity: string } | { kind: 'archive' } | { kind: 'files' };

export interface Section {
  header: SectionHeader;
  /** Its bytes, in pieces (an entity's rows are held in slabs). */
  body: readonly Buffer[];
}

/** A key for one archive's viewer data. */
export function newArchiveKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Plaintext up to this size is deflated in one call on this thread (a light export's data): no trip to the thread pool. */
const ONE_CALL_BYTES = 256 * 1024;
/** Base64 text is handed on in pieces of about this size (a multiple of 4 characters). */
const TEXT_PIECE_BYTES = 192 * 1024;

/**
 * The script that hands `sections` to the page, sealed under `key`, as text
 * pieces (never the whole of a big entity's text at once). `level` is the
 * deflate level (the archive's own).
 */
export async function* sealedScript(key: Buffer, sections: readonly Section[], level: number): AsyncGenerator<Buffer> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const text = new Base64Pieces();
  yield Buffer.from('exporterViewer.sealed("');
  yield* text.add(iv);
  for await (const deflated of deflatedPlaintext(sections, level)) yield* text.add(cipher.update(deflated));
  yield* text.add(cipher.final());
  yield* text.add(cipher.getAuthTag());
  yield* text.end();
  yield Buffer.from('");\n');
}

/** The sections' plaintext, deflated: in one call when small, else streamed through zlib slab by slab. */
async function* deflatedPlaintext(sections: readonly Section[], level: number): AsyncGenerator<Buffer> {
  const pieces = sections.flatMap((s) => [headerLine(s), ...s.body]);
  const bytes = pieces.reduce((sum, p) => sum + p.length, 0);
  if (bytes <= ONE_CALL_BYTES) {
    yield deflateRawSync(Buffer.concat(pieces, bytes), { level });
    return;
  }
  const deflate = createDeflateRaw({ level });
  const feeding = (async () => {
    for (const piece of pieces) if (!deflate.write(piece)) await once(deflate, 'drain');
    deflate.end();
  })();
  try {
    for await (const chunk of deflate) yield chunk as Buffer;
    await feeding;
  } finally {
    deflate.destroy();
    // A reader that stops early (its build stopped) ends the loop, which
    // destroys the stream and fails the feeder's wait: that outcome is the
    // reader's to know, not the process's (an unhandled rejection ended a
    // worker and every build in it). Where the loop ran to its end, the
    // await above has met it already.
    feeding.catch(() => undefined);
  }
}

function headerLine(section: Section): Buffer {
  const bytes = section.body.reduce((sum, b) => sum + b.length, 0);
  return Buffer.from(`${JSON.stringify({ ...section.header, bytes })}\n`);
}

/** Bytes to base64 text, handed on in pieces of whole 3-byte groups (the rest waits for the next bytes). */
class Base64Pieces {
  private carry = Buffer.alloc(0);
  private held: Buffer[] = [];
  private heldBytes = 0;

  *add(bytes: Buffer): Generator<Buffer> {
    if (bytes.length === 0) return;
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    if (this.heldBytes + this.carry.length >= TEXT_PIECE_BYTES) yield* this.flush(false);
  }

  *end(): Generator<Buffer> {
    yield* this.flush(true);
  }

  private *flush(last: boolean): Generator<Buffer> {
    const all = Buffer.concat([this.carry, ...this.held]);
    this.held = [];
    this.heldBytes = 0;
    const whole = last ? all.length : all.length - (all.length % 3);
    this.carry = all.subarray(whole);
    if (whole > 0) yield Buffer.from(all.subarray(0, whole).toString('base64'));
  }
}
