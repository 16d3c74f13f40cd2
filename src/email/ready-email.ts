/** The "your export is ready" email: plain text and a simple HTML part. */
export interface ReadyEmailInput {
  name: string | null;
  downloadUrl: string;
  expiresAt: Date;
  rowCounts: Record<string, number> | null;
  archiveBytes: number | null;
}

/** Singular and plural, in the order of the archive. */
const LABELS: [string, string, string][] = [
  ['projects', 'project', 'projects'],
  ['features', 'feature', 'features'],
  ['pipeline_runs', 'pipeline run', 'pipeline runs'],
  ['releases', 'release', 'releases'],
];

export function readyEmail(input: ReadyEmailInput): { subject: string; text: string; html: string } {
  const when = `${input.expiresAt.toISOString().slice(0, 10)} at ${input.expiresAt.toISOString().slice(11, 16)} UTC`;
  const holds = LABELS.filter(([entity]) => (input.rowCounts?.[entity] ?? 0) > 0).map(([entity, one, many]) => {
    const n = input.rowCounts![entity]!;
    return `${n} ${n === 1 ? one : many}`;
  });
  const size = input.archiveBytes ? ` (${formatBytes(input.archiveBytes)})` : '';
  const greeting = input.name ? `Hello ${input.name},` : 'Hello,';
  const summary = `It holds your account details and ${holds.length ? holds.join(', ') : 'no projects'}, as JSON and as CSV, with a README.txt that explains every file.`;
  const text = [
    greeting,
    '',
    `the copy of your data that you asked for is ready${size}. Download it here:`,
    '',
    input.downloadUrl,
    '',
    `The link works until ${when}. After that the file is deleted; you can ask for a new export at any time.`,
    '',
    summary,
    '',
    'If you did not ask for this, you can ignore this email; nobody else was sent the link.',
    '',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">
<p>${escapeHtml(greeting)}</p>
<p>The copy of your data that you asked for is ready${escapeHtml(size)}.</p>
<p><a href="${escapeHtml(input.downloadUrl)}" style="display: inline-block; padding: 8px 16px; background: #1f6feb; color: #fff; text-decoration: none; border-radius: 4px">Download your data</a></p>
<p>The link works until <strong>${escapeHtml(when)}</strong>. After that the file is deleted; you can ask for a new export at any time.</p>
<p>${escapeHtml(summary)}</p>
<p style="color: #666">If you did not ask for this, you can ignore this email; nobody else was sent the link.</p>
</body></html>
`;
  return { subject: 'Your data export is ready', text, html };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
