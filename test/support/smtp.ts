import type net from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server (nodemailer's smtp-server) that keeps what it receives. */
export async function startSmtp() {
  const received: { to: string; subject: string; text: string; html: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, done) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            to: (mail.to as { text: string }).text,
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: String(mail.html),
          });
          done();
        })
        .catch(done);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.server.address() as net.AddressInfo;
  return { received, url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
