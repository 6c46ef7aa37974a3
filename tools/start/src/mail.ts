// A local mail relay for the tenant's email worker: it accepts every message and keeps it
// as an .eml file, so the emails a demo sends can be read without a real mail server.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface MailCatcher {
  port: number;
  close(): Promise<void>;
}

/** The Subject and To headers of a raw message (unfolded), for a one-line notice. */
export function summarize(raw: string): { to: string; subject: string } {
  const head = raw.split(/\r?\n\r?\n/, 1)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
  const header = (name: string) =>
    new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  return { to: header('To'), subject: header('Subject') };
}

export function startMailCatcher(
  dir: string,
  onMail: (file: string, summary: { to: string; subject: string }) => void,
  onError: (err: Error) => void,
): Promise<MailCatcher> {
  mkdirSync(dir, { recursive: true });
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'Gorten local mail catcher',
    onData(stream, _session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const file = join(
          dir,
          `${new Date().toISOString().replace(/[:.]/g, '-')}-${++received}.eml`,
        );
        writeFileSync(file, raw);
        onMail(file, summarize(raw.toString('utf8')));
        done();
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      // From now on an error is one client's (a connection reset by a service that
      // stopped, say): report it and keep serving; it must never end npm start.
      server.off('error', reject);
      server.on('error', onError);
      const address = server.server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
