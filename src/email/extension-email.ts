import { escapeHtml } from './ready-email.ts';

/**
 * The notice GDPR Art. 12(3) requires when the answer to an access request
 * is extended: the new date and the reason, within the first month.
 */
export function extensionEmail(input: {
  name: string | null;
  dueAt: Date;
  reason: string;
  requestedAt: Date;
  /** What they asked for: a copy of their data (the default), or its erasure. */
  erasure?: boolean;
}): {
  subject: string;
  text: string;
  html: string;
} {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const greeting = input.name ? `Hello ${input.name},` : 'Hello,';
  const lines = input.erasure
    ? [
        `you asked us on ${day(input.requestedAt)} to erase your data. We need more time: it will be done by ${day(input.dueAt)} at the latest.`,
        `The reason: ${input.reason}`,
        'You do not need to do anything.',
      ]
    : [
        `you asked for a copy of your data on ${day(input.requestedAt)}. We need more time to prepare it: you will have it by ${day(input.dueAt)} at the latest.`,
        `The reason: ${input.reason}`,
        'You do not need to do anything. We will email you the link as soon as it is ready.',
      ];
  const text = [greeting, '', ...lines.flatMap((line) => [line, '']), ''].join('\n');
  const html = `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">
<p>${escapeHtml(greeting)}</p>
${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
</body></html>
`;
  return {
    subject: input.erasure ? 'The erasure of your data will take longer' : 'Your data export will take longer',
    text,
    html,
  };
}
