// kong/kong.yml, the tenant policy for a standalone DB-less Kong: generated from the
// operator's gateway builders, and holding the policy of ARCHITECTURE §7 — read here as
// plain YAML, the way Kong reads it (aliases resolved).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  buildKongPlugins,
  DEFAULT_SETTINGS,
  buildUpstreamPolicy,
  HTTP_PORT,
  ROUTES,
  serviceEdge,
  tenantNames,
  type Marketplace,
  type ServiceName,
} from '@gorten/operator';

const ROOT = join(import.meta.dirname, '..', '..');
const KONG_YML = join(ROOT, 'kong', 'kong.yml');
const REGENERATE = 'npm run kong';

interface Plugin {
  name: string;
  tags: string[];
  config: Record<string, unknown>;
}
interface Route {
  name: string;
  hosts: string[];
  paths: string[];
  methods?: string[];
  strip_path: boolean;
  regex_priority: number;
  plugins: Plugin[];
}
interface Counters {
  http_failures?: number;
  tcp_failures?: number;
  timeouts?: number;
  successes?: number;
  interval?: number;
  http_statuses?: number[];
}
interface Upstream {
  name: string;
  algorithm: string;
  healthchecks: {
    active: {
      type: string;
      http_path: string;
      timeout: number;
      healthy: Counters;
      unhealthy: Counters;
    };
    passive: { type: string; healthy: Counters; unhealthy: Counters };
  };
  targets: { target: string }[];
}
interface DeckFile {
  _format_version: string;
  services: {
    name: ServiceName;
    url: string;
    connect_timeout: number;
    read_timeout: number;
    write_timeout: number;
    retries: number;
    routes: Route[];
  }[];
  routes: Route[];
  upstreams: Upstream[];
  consumers: {
    username: string;
    jwt_secrets: { key: string; algorithm: string; rsa_public_key: string }[];
    acls: { group: string }[];
  }[];
  plugins?: unknown;
}

const committed = readFileSync(KONG_YML, 'utf8');
const deck = parse(committed) as DeckFile;
const mp = parse(readFileSync(join(ROOT, 'examples', 'marketplace.yaml'), 'utf8')) as Marketplace;
const names = tenantNames(mp.metadata.name);
// As tools/kong/deck-file.ts renders kong.yml: a standalone Kong loads gorten-problem-details.
const operatorPlugins = buildKongPlugins(mp, { ...DEFAULT_SETTINGS, kongProblemDetails: true });

const routed = deck.services.flatMap((service) =>
  service.routes.map((route) => ({ service, route })),
);
const allRoutes = [...routed.map((r) => r.route), ...deck.routes];
const pluginNames = (route: Route) => route.plugins.map((p) => p.name);
const pluginsNamed = (name: string) =>
  allRoutes.flatMap((r) => r.plugins).filter((p) => p.name === name);

function firstDifference(a: string, b: string): string {
  const left = a.split('\n');
  const right = b.split('\n');
  const line = left.findIndex((text, i) => text !== right[i]);
  const at = line === -1 ? left.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(left[at])}, generated ${JSON.stringify(right[at])}`;
}

describe('kong/kong.yml', () => {
  it(`is what \`${REGENERATE}\` generates from the operator's gateway now`, () => {
    const generated = execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['tools/kong/write.ts', '--print'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (generated !== committed) {
      throw new Error(
        `kong/kong.yml is out of date with the operator: run \`${REGENERATE}\` and commit it ` +
          `(first difference at ${firstDifference(committed, generated)})`,
      );
    }
  });

  it('is a decK 3.0 file with no global plugins', () => {
    expect(deck._format_version).toBe('3.0');
    // A global request-termination would answer every route.
    expect(deck.plugins).toBeUndefined();
  });

  it('has every operator route on the marketplace host, with its paths, methods and service', () => {
    expect(routed.map((r) => r.route.name).sort()).toEqual(
      ROUTES.map((r) => `route-${r.name}`).sort(),
    );
    for (const expected of ROUTES) {
      const found = routed.find((r) => r.route.name === `route-${expected.name}`)!;
      expect(found.service.name).toBe(expected.service);
      expect(found.route).toMatchObject({ hosts: [mp.spec.host], strip_path: false });
      expect(found.route.methods).toEqual(expected.methods);
      // Kubernetes Prefix semantics, as KIC writes them: `/carts` and `/carts/…`, not `/cartsx`.
      expect([...found.route.paths].sort()).toEqual(
        expected.paths.flatMap((p) => [`${p}/`, `~${p}$`]).sort(),
      );
    }
  });

  it('guards exactly the non-public routes with jwt and an acl admitting only this tenant', () => {
    for (const expected of ROUTES) {
      const route = allRoutes.find((r) => r.name === `route-${expected.name}`)!;
      if (expected.public) {
        expect(pluginNames(route)).not.toContain('jwt');
        expect(pluginNames(route)).not.toContain('acl');
      } else {
        expect(pluginNames(route)).toEqual(expect.arrayContaining(['jwt', 'acl']));
      }
    }
    for (const jwt of pluginsNamed('jwt')) {
      expect(jwt.config).toMatchObject({ key_claim_name: 'iss' });
      expect(jwt.config.claims_to_verify).toContain('exp');
    }
    for (const acl of pluginsNamed('acl')) expect(acl.config.allow).toEqual([names.aclGroup]);
  });

  it("has the tenant's token issuer as consumer: RS256 key found by iss, in the allowed group", () => {
    expect(deck.consumers).toHaveLength(1);
    const [issuer] = deck.consumers;
    expect(issuer!.jwt_secrets).toEqual([
      {
        key: names.tokenIssuer,
        algorithm: 'RS256',
        secret: expect.any(String) as unknown,
        rsa_public_key: expect.stringContaining('env "DECK_JWT_PUBLIC_KEY"') as unknown,
      },
    ]);
    expect(committed).not.toContain('BEGIN');
    expect(issuer!.acls).toEqual([{ group: names.aclGroup }]);
  });

  it("carries the common plugins on every routed path, each with the operator's config", () => {
    for (const { route } of routed) {
      expect(pluginNames(route)).toEqual(
        expect.arrayContaining([
          'rate-limiting',
          'response-transformer',
          'cors',
          'request-size-limiting',
          // Kong's own rejections (jwt's 401 too) as problem documents.
          'gorten-problem-details',
        ]),
      );
    }
    for (const plugin of allRoutes.flatMap((r) => r.plugins)) {
      const source = operatorPlugins.find((p) => p.metadata.name === plugin.tags[0]);
      expect({ name: plugin.name, config: plugin.config }).toEqual({
        name: source?.plugin,
        config: source?.config,
      });
    }
  });

  it('allows only explicit CORS origins, never * with credentials', () => {
    const cors = pluginsNamed('cors');
    expect(cors.length).toBeGreaterThan(0);
    for (const plugin of cors) {
      const origins = plugin.config.origins as string[];
      expect(origins.length).toBeGreaterThan(0);
      expect(origins).toEqual(mp.spec.gateway?.corsOrigins);
      if (plugin.config.credentials) expect(origins).not.toContain('*');
    }
  });

  it('answers other paths on the host with a 404 problem+json catch-all that shadows no route', () => {
    const catchAll = allRoutes.filter((r) => r.paths.includes('/'));
    expect(catchAll).toHaveLength(1);
    const fallback = catchAll[0]!;
    // Top-level and serviceless: it can never forward, whatever happens to its plugin.
    expect(deck.routes).toEqual([fallback]);
    expect(fallback).toMatchObject({ hosts: [mp.spec.host], paths: ['/'] });
    expect(fallback.methods).toBeUndefined();
    const termination = fallback.plugins.find((p) => p.name === 'request-termination')!;
    expect(termination.config).toMatchObject({
      status_code: 404,
      content_type: 'application/problem+json',
    });
    expect(JSON.parse(termination.config.body as string)).toMatchObject({ status: 404 });
    expect(pluginNames(fallback)).toContain('response-transformer');

    // Kong ranks routes by how many attributes they match, then ranks a route with a regex
    // path above one without, then by regex_priority, then by path length: every real route
    // wins over "/" wherever both match.
    const attributes = (r: Route) => 2 + (r.methods ? 1 : 0);
    for (const { route } of routed) {
      expect(attributes(route)).toBeGreaterThanOrEqual(attributes(fallback));
      expect(route.paths.some((p) => p.startsWith('~'))).toBe(true);
      expect(route.regex_priority).toBeGreaterThanOrEqual(fallback.regex_priority);
    }
    expect(fallback.paths.some((p) => p.startsWith('~'))).toBe(false);
  });

  it("calls each service with the operator's timeouts and retries, and never retries a checkout or a payment", () => {
    for (const service of deck.services) {
      const edge = serviceEdge(mp, service.name);
      expect(service).toMatchObject({
        connect_timeout: edge.connectMilliseconds,
        read_timeout: edge.readMilliseconds,
        write_timeout: edge.writeMilliseconds,
        retries: edge.retries,
      });
      // Kong's defaults (60 s, 5 retries) are what left a frozen catalog unanswered for 75 s.
      expect(service.read_timeout).toBeLessThan(60_000);
    }
    const retries = (name: string) => deck.services.find((s) => s.name === name)?.retries;
    expect(retries('checkout')).toBe(0);
    expect(retries('payments')).toBe(0);
  });

  it('balances each service over an upstream of its own, whose target is the service on its port', () => {
    expect(deck.upstreams.map((u) => u.name).sort()).toEqual(
      deck.services.map((s) => new URL(s.url).hostname).sort(),
    );
    for (const service of deck.services) {
      const upstream = deck.upstreams.find((u) => u.name === new URL(service.url).hostname)!;
      expect(upstream.targets).toEqual([{ target: `${service.name}:${HTTP_PORT}` }]);
      const policy = buildUpstreamPolicy(mp, service.name).spec as { algorithm: string };
      expect(upstream.algorithm).toBe(policy.algorithm);
    }
  });

  it('probes /readyz on every target, healthy or not, and breaks the circuit on consecutive failures', () => {
    for (const { name, healthchecks } of deck.upstreams) {
      const { active, passive } = healthchecks;
      expect({ name, type: active.type, path: active.http_path }).toEqual({
        name,
        type: 'http',
        path: '/readyz',
      });
      // Both intervals: probing unhealthy targets is what brings back one the breaker took out.
      expect(active.healthy.interval).toBeGreaterThan(0);
      expect(active.unhealthy.interval).toBeGreaterThan(0);
      expect(active.timeout).toBeLessThan(active.healthy.interval!);
      for (const counter of ['http_failures', 'tcp_failures', 'timeouts'] as const) {
        expect(active.unhealthy[counter]).toBeGreaterThan(0);
        expect(passive.unhealthy[counter]).toBeGreaterThan(0);
      }
      expect(passive.unhealthy.http_statuses).toEqual([500, 502, 503, 504]);
      // 0 would switch Kong's success counter off, and failures would never be consecutive.
      expect(passive.healthy.successes).toBeGreaterThan(0);
      expect(passive.healthy.interval).toBeUndefined();
    }
  });
});
