import { createDecipheriv } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';

/** One section of a sealed data script (src/viewer/seal.ts): what it is, and its text. */
export interface ViewerSection {
  header: { kind: 'rows' | 'archive' | 'files'; entity?: string; bytes: number };
  text: string;
}

/** The key in an archive's index.html, or undefined when it holds none. */
export function archiveKeyOf(indexHtml: string): Buffer | undefined {
  const m = /<meta name="exporter-archive-key" content="([A-Za-z0-9+/=]*)">/.exec(indexHtml);
  return m?.[1] ? Buffer.from(m[1], 'base64') : undefined;
}

/** A data script opened as the page opens it: base64, then AES-256-GCM (IV first, tag last), then raw deflate, then sections. */
export function unsealScript(script: string, key: Buffer): ViewerSection[] {
  const m = /^exporterViewer\.sealed\("([A-Za-z0-9+/=]*)"\);\n$/.exec(script);
  if (!m) throw new Error(`not a sealed data script: ${script.slice(0, 80)}`);
  const sealed = Buffer.from(m[1]!, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(-16));
  const plain = inflateRawSync(Buffer.concat([decipher.update(sealed.subarray(12, -16)), decipher.final()]));
  const sections: ViewerSection[] = [];
  for (let at = 0; at < plain.length; ) {
    const end = plain.indexOf(10, at);
    const header = JSON.parse(plain.subarray(at, end).toString()) as ViewerSection['header'];
    sections.push({ header, text: plain.subarray(end + 1, end + 1 + header.bytes).toString() });
    at = end + 1 + header.bytes;
  }
  return sections;
}

/** Every section of every data script of an archive's viewer, opened with the key in its index.html. */
export function viewerSections(files: ReadonlyMap<string, Buffer>): ViewerSection[] {
  const key = archiveKeyOf(files.get('index.html')!.toString());
  if (!key) throw new Error('index.html holds no key');
  return [...files]
    .filter(([name]) => name === 'viewer/archive.js' || name.startsWith('viewer/data/'))
    .flatMap(([, bytes]) => unsealScript(bytes.toString(), key));
}
