// kong/plugins/gorten-problem-details run by LuaJIT, Kong's Lua, through a stand-in for the
// PDK calls it makes (kong-pdk-harness.lua): each rejection Kong 3.4 makes itself on a
// tenant's route — jwt's kong.response.exit, the templated kong.response.error of acl,
// rate-limiting and request-size-limiting, the error handler's 502/504 — reaches the
// client as a problem document, while the services' own answers pass byte for byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  luaFormat,
  problemDetailsSchema,
  throughProblemDetails,
  type ClientAnswer,
  type KongAnswer,
} from './kong-lua.js';

const TEMPLATE = readFileSync(
  join(import.meta.dirname, '..', '..', 'kong', 'problem.json'),
  'utf8',
);
const JSON_TYPE = 'application/json; charset=utf-8';

/** jwt's answer: kong.response.exit(401, table) encodes the table as JSON. */
function exitWith(status: number, table: Record<string, string>): KongAnswer {
  const body = JSON.stringify(table);
  return {
    status,
    source: 'exit',
    headers: { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length) },
    chunks: [body],
  };
}

/** kong.response.error(status, message) for a client that accepts JSON: the template. */
function errorWith(status: number, message: string, headers: Record<string, string> = {}) {
  const body = luaFormat(TEMPLATE, message);
  return {
    status,
    source: 'exit' as const,
    headers: { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length), ...headers },
    chunks: [body],
  };
}

function problemOf(answer: ClientAnswer): unknown {
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.headers['content-length']).toBeUndefined();
  return JSON.parse(answer.body);
}

describe('gorten-problem-details turns Kong-made rejections into problem documents', () => {
  test.each([
    ['no token', { message: 'Unauthorized' }, 'Unauthorized'],
    ['a bad token', { message: 'Bad token; invalid JSON' }, 'Bad token; invalid JSON'],
    [
      'an unknown issuer',
      { message: "No credentials found for given 'iss'" },
      "No credentials found for given 'iss'",
    ],
    ['an expired token', { exp: 'token expired' }, 'exp: token expired'],
  ])("jwt's 401 for %s (kong.response.exit, which no template reaches)", (_case, table, detail) => {
    expect(problemOf(throughProblemDetails(exitWith(401, table)))).toEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail,
    });
  });

  test.each([
    [401, 'Unauthorized', 'Unauthorized'], // acl without a consumer
    [403, 'Forbidden', 'You cannot consume this service'], // acl, another tenant's token
    [429, 'Too Many Requests', 'API rate limit exceeded'],
    [413, 'Payload Too Large', 'Request size limit exceeded'],
    [411, 'Length Required', 'A valid Content-Length header is required'],
    [417, 'Expectation Failed', 'Request size limit exceeded'],
    [503, 'Service Unavailable', 'failure to get a peer from the ring-balancer'],
  ])('%i from kong.response.error through kong/problem.json', (status, title, detail) => {
    expect(problemOf(throughProblemDetails(errorWith(status, detail)))).toEqual({
      type: 'about:blank',
      title,
      status,
      detail,
    });
  });

  test("keeps the rejection's other headers (rate-limiting's Retry-After)", () => {
    const answer = throughProblemDetails(
      errorWith(429, 'API rate limit exceeded', { 'Retry-After': '17' }),
    );
    expect(answer.headers['retry-after']).toBe('17');
  });

  test('the error handler\'s 502 and 504 (source "error") become problem documents too', () => {
    for (const [status, title, detail] of [
      [502, 'Bad Gateway', 'An invalid response was received from the upstream server'],
      [504, 'Gateway Timeout', 'The upstream server is timing out'],
    ] as const) {
      const answer = { ...errorWith(status, detail), source: 'error' as const };
      expect(problemOf(throughProblemDetails(answer))).toEqual({
        type: 'about:blank',
        title,
        status,
        detail,
      });
    }
  });

  test('a client that asked for HTML or plain text gets the problem document as well', () => {
    const html =
      '<!doctype html>\n<html><body><h1>Error</h1><p>API rate limit exceeded.</p></body></html>\n';
    const fromHtml = throughProblemDetails({
      status: 429,
      source: 'exit',
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
      chunks: [html],
    });
    expect(problemOf(fromHtml)).toEqual({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
    });
    const fromText = throughProblemDetails({
      status: 403,
      source: 'exit',
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      chunks: ['You cannot consume this service\n'],
    });
    expect(problemOf(fromText)).toMatchObject({
      status: 403,
      detail: 'You cannot consume this service',
    });
  });

  test('a body nginx hands over in several chunks is rewritten once, whole', () => {
    const body = JSON.stringify({ message: 'Unauthorized' });
    const answer = throughProblemDetails({
      ...exitWith(401, { message: 'Unauthorized' }),
      chunks: [body.slice(0, 5), body.slice(5, 12), body.slice(12)],
    });
    expect(problemOf(answer)).toMatchObject({ status: 401, detail: 'Unauthorized' });
  });
});

describe('gorten-problem-details leaves alone what it must not touch', () => {
  test.each([
    [
      'a service\'s own 401 (source "service")',
      {
        status: 401,
        source: 'service',
        headers: { 'Content-Type': 'application/json', 'Content-Length': '26' },
        chunks: ['{"message":"Unauthorized"}'],
      },
    ],
    [
      'a service\'s 502 (source "service")',
      {
        status: 502,
        source: 'service',
        headers: { 'Content-Type': 'text/html', 'Content-Length': '11' },
        chunks: ['<p>bad</p>\n'],
      },
    ],
    [
      "the operator's request-termination, already a problem document",
      {
        status: 404,
        source: 'exit',
        headers: { 'Content-Type': 'application/problem+json', 'Content-Length': '2' },
        chunks: ['{}'],
      },
    ],
    [
      "cors' preflight answer (kong.response.exit(200))",
      { status: 200, source: 'exit', headers: { 'Content-Length': '0' }, chunks: [''] },
    ],
  ] satisfies [string, KongAnswer][])('%s', (_case, answer) => {
    const lowered = Object.fromEntries(
      Object.entries(answer.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    expect(throughProblemDetails(answer)).toEqual({
      headers: lowered,
      body: answer.chunks.join(''),
    });
  });
});

describe("the plugin's schema", () => {
  test('is named as its directory, takes no settings, and never runs per consumer', () => {
    expect(problemDetailsSchema()).toEqual({
      name: 'gorten-problem-details',
      fields: ['consumer', 'protocols', 'config'],
      config_fields: 0,
    });
  });
});
