// Secrets out of log lines, without I/O: every field the kit redacts, at the depth it
// redacts it, also through a real pino logger; what a line was given is never changed, and
// an Error that holds a secret keeps its type and message.
import { Writable } from 'node:stream';
import { createLogger } from '../src/logger.js';
import { CENSOR, redactSecrets } from '../src/redaction.js';

function loggedLines(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('test', 'info', sink), lines };
}

test('secrets at the top level and one level down are censored; the rest is left', () => {
  const line = {
    password: 'p',
    token: 't',
    refreshToken: 'r',
    body: { password: 'p', name: 'kept' },
    grant: { token: 't', accessToken: 'a', refreshToken: 'r', secret: 's', privateKey: 'k' },
    count: 3,
  };
  expect(redactSecrets(line)).toEqual({
    password: CENSOR,
    token: CENSOR,
    refreshToken: CENSOR,
    body: { password: CENSOR, name: 'kept' },
    grant: {
      token: CENSOR,
      accessToken: CENSOR,
      refreshToken: CENSOR,
      secret: CENSOR,
      privateKey: CENSOR,
    },
    count: 3,
  });
  expect(line.body.password).toBe('p');
  expect(line.grant.secret).toBe('s');
});

test('credential headers of a logged request and response are censored', () => {
  const req = { method: 'GET', headers: { authorization: 'Bearer x', cookie: 'c', accept: '*/*' } };
  const res = { statusCode: 200, headers: { 'set-cookie': 'c', 'content-type': 'text/plain' } };
  expect(redactSecrets({ req, res })).toEqual({
    req: { method: 'GET', headers: { authorization: CENSOR, cookie: CENSOR, accept: '*/*' } },
    res: { statusCode: 200, headers: { 'set-cookie': CENSOR, 'content-type': 'text/plain' } },
  });
  expect(req.headers.authorization).toBe('Bearer x');
});

test('a line without secrets is passed on as it is, without a copy', () => {
  const line = { method: 'GET', route: '/healthz', status: 200, nested: { deeper: { token: 1 } } };
  expect(redactSecrets(line)).toBe(line);
});

test('a logged error with a secret keeps its type and message, and the secret is not written', () => {
  const { log, lines } = loggedLines();
  const err = Object.assign(new TypeError('bad grant'), { token: 'hunter2' });
  log.error({ err }, 'failed');
  expect(JSON.stringify(lines)).not.toContain('hunter2');
  expect(lines[0]?.err).toMatchObject({ type: 'TypeError', message: 'bad grant', token: CENSOR });
  expect(err.token).toBe('hunter2');
});
