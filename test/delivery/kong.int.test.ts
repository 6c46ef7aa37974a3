// decK's own offline reading of kong/kong.yml (`deck file validate`: its schema and the
// references between entities), and the render step that turns it into the file a DB-less
// Kong loads. Broken copies must fail, or a passing validation would prove nothing.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { goTool } from '@gorten/testenv';

const ROOT = join(import.meta.dirname, '..', '..');
const KONG_YML = join(ROOT, 'kong', 'kong.yml');
const KEY_ENV = 'DECK_JWT_PUBLIC_KEY';

// As `"$(cat public.pem)"` hands it over: several lines, no trailing newline.
const publicPem = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
}).publicKey.trimEnd();

let deck: string;
let dir: string;

beforeAll(() => {
  deck = goTool('deck');
  dir = mkdtempSync(join(tmpdir(), 'gorten-kong-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runDeck(args: string[], withKey = true): { status: number | null; output: string } {
  const env = { ...process.env, [KEY_ENV]: withKey ? publicPem : undefined };
  const result = spawnSync(deck, [...args, '--analytics=false'], { env, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A copy of kong/kong.yml with one edit; the edit must apply, or the test proves nothing. */
function editedCopy(name: string, from: string, to: string): string {
  const text = readFileSync(KONG_YML, 'utf8');
  expect(text).toContain(from);
  const file = join(dir, name);
  writeFileSync(file, text.replace(from, to));
  return file;
}

describe('deck and kong/kong.yml', () => {
  it('deck file validate accepts the committed file', () => {
    expect(runDeck(['file', 'validate', KONG_YML])).toMatchObject({ status: 0 });
  });

  it('deck file render puts the multi-line public key intact where Kong reads it', () => {
    const rendered = runDeck(['file', 'render', '--populate-env-vars', KONG_YML]);
    expect(rendered).toMatchObject({ status: 0 });
    const config = parse(rendered.output) as {
      consumers: { jwt_secrets: { rsa_public_key: string }[] }[];
      services: { routes: { name: string; plugins: { name: string }[] }[] }[];
    };
    expect(config.consumers[0]!.jwt_secrets[0]!.rsa_public_key).toBe(publicPem);
    // The YAML aliases come out as a full plugin on every route.
    const carts = config.services.flatMap((s) => s.routes).find((r) => r.name === 'route-carts');
    expect(carts!.plugins.map((p) => p.name).sort()).toEqual([
      'acl',
      'cors',
      'gorten-problem-details',
      'jwt',
      'rate-limiting',
      'request-size-limiting',
      'response-transformer',
    ]);
  });

  it(`deck file validate fails, naming ${KEY_ENV}, when the key is not given`, () => {
    const result = runDeck(['file', 'validate', KONG_YML], false);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain(KEY_ENV);
  });

  it('deck file validate rejects a copy with a route to an unknown service', () => {
    const strayRoute = (service: string) =>
      `\nroutes:\n  - name: stray\n    service:\n      name: ${service}\n    paths:\n      - /stray\n`;
    // The same edit naming a real service passes: the failure is about the reference.
    const known = editedCopy('known-service.yml', '\nroutes:\n', strayRoute('users'));
    expect(runDeck(['file', 'validate', known])).toMatchObject({ status: 0 });
    const unknown = editedCopy('unknown-service.yml', '\nroutes:\n', strayRoute('no-such-service'));
    const result = runDeck(['file', 'validate', unknown]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('no-such-service');
    expect(result.output).toContain('entity not found');
  });

  it('deck file validate rejects a copy with a misspelt route field', () => {
    const file = editedCopy('misspelt.yml', 'strip_path: false', 'strip_paht: false');
    const result = runDeck(['file', 'validate', file]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('Additional property strip_paht is not allowed');
  });

  it('deck file render keeps the timeouts, retries, upstreams and health checks Kong loads', () => {
    const rendered = runDeck(['file', 'render', '--populate-env-vars', KONG_YML]);
    expect(rendered).toMatchObject({ status: 0 });
    const config = parse(rendered.output) as {
      services: { name: string; host: string; read_timeout: number; retries: number }[];
      upstreams: {
        name: string;
        healthchecks: { active: { http_path: string } };
        targets: { target: string }[];
      }[];
    };
    const checkout = config.services.find((s) => s.name === 'checkout')!;
    expect(checkout).toMatchObject({ host: 'checkout.upstream', retries: 0 });
    expect(checkout.read_timeout).toBeGreaterThan(0);
    const upstream = config.upstreams.find((u) => u.name === checkout.host)!;
    expect(upstream.healthchecks.active.http_path).toBe('/readyz');
    expect(upstream.targets.map((t) => t.target)).toEqual(['checkout:8080']);
  });

  it.each([
    ['a misspelt health-check field', 'http_path: /readyz', 'http_pth: /readyz', 'http_pth'],
    [
      'a misspelt service timeout',
      'connect_timeout: 2000',
      'connect_timeot: 2000',
      'connect_timeot',
    ],
    ['a count that is no integer', 'successes: 1\n', 'successes: many\n', 'Expected: integer'],
  ])('deck file validate rejects a copy with %s', (_label, from, to, complaint) => {
    const file = editedCopy(`${complaint.replace(/\W/g, '')}.yml`, from, to);
    const result = runDeck(['file', 'validate', file]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain(complaint);
  });
});
