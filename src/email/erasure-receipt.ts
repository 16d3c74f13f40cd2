import type { OwedReceipt } from '../db/erasure-receipts.ts';
import { escapeHtml } from './ready-email.ts';

/**
 * The receipt a person gets when their data has been erased (GDPR Art. 17,
 * Art. 12(3)): when it was asked and done, and per kind of data what was
 * deleted, anonymized and kept, with why. Counts only, never the data.
 */
export function erasureReceiptEmail(r: OwedReceipt): { subject: string; text: string; html: string } {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const lines = [
    `you asked us on ${day(r.requestedAt)} to erase your data. It was erased on ${day(r.completedAt)}, and we checked afterwards that nothing of it was left.`,
    ...entityLines(r),
    'Your account no longer exists. This email is the last we send to this address; we do not keep it.',
  ];
  const text = ['Hello,', '', ...lines.flatMap((line) => [line, '']), ''].join('\n');
  const html = `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">
<p>Hello,</p>
${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
</body></html>
`;
  return { subject: 'Your data has been erased', text, html };
}

/** One line per kind of data: what was done to it, in counts; what was kept, and why. */
function entityLines(r: OwedReceipt): string[] {
  const lines: string[] = [];
  for (const [name, e] of Object.entries(r.receipt?.entities ?? {})) {
    const c = e.counts ?? {};
    const parts = [
      c.deleted ? `${c.deleted} deleted` : '',
      c.anonymized ? `${c.anonymized} anonymized (your name and details removed)` : '',
      c.shared ? `${c.shared} shared with others, kept without you` : '',
      c.memberships ? `${c.memberships} membership${c.memberships === 1 ? '' : 's'} removed` : '',
      c.files ? `${c.files} file${c.files === 1 ? '' : 's'} deleted` : '',
      c.kept ? `${c.kept} kept, because ${e.why ?? 'the law requires it'}` : '',
    ].filter(Boolean);
    if (parts.length > 0) lines.push(`${name.replaceAll('_', ' ')}: ${parts.join('; ')}.`);
  }
  return lines;
}
