// The tenant's Kong Ingress Controller resources on spec.host: one Ingress per route with
// its plugins, the KongPlugins themselves, the KongConsumer whose JWT credential verifies
// the tenant's tokens (and whose ACL group admits them), and a catch-all route that
// answers unknown paths (404) — or every path while the tenant is suspended (503). A host
// belongs to the oldest Marketplace that names it (`hostHolder`).
import type { Marketplace, ServiceName } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import type { OperatorSettings } from '../settings.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';
import { credentialSecret, kongConsumer } from '../kong.js';

/** Kong plugins the operator may reference; a name outside this set is a bug. */
export const KNOWN_KONG_PLUGINS = new Set([
  'jwt',
  'acl',
  'rate-limiting',
  'response-transformer',
  'cors',
  'request-size-limiting',
  'request-termination',
  // Ours, from kong/plugins/ (docs/operator.md says how the cluster's Kong loads it).
  'gorten-problem-details',
]);

/**
 * The Marketplace that holds `mp`'s host instead of it, if any: of all that name the
 * host, the oldest (then the first by name) keeps it, so the tenant that published it
 * first is never displaced by a newcomer.
 */
export function hostHolder(
  mp: Marketplace,
  marketplaces: Iterable<Marketplace>,
): Marketplace | undefined {
  const host = mp.spec.host.toLowerCase();
  const since = (m: Marketplace) => new Date(m.metadata.creationTimestamp ?? 0).getTime();
  const senior = (a: Marketplace, b: Marketplace) =>
    since(a) < since(b) || (since(a) === since(b) && a.metadata.name < b.metadata.name);
  let holder = mp;
  for (const other of marketplaces) {
    if (other.spec.host.toLowerCase() === host && senior(other, holder)) holder = other;
  }
  return holder.metadata.name === mp.metadata.name ? undefined : holder;
}

export interface Route {
  name: string;
  service: ServiceName;
  paths: string[];
  /** Only these methods (a public read-only route beside a protected one). */
  methods?: string[];
  /** Reachable without a token; the service still authorizes what it serves. */
  public: boolean;
}

export const ROUTES: readonly Route[] = [
  { name: 'auth', service: 'users', paths: ['/auth'], public: true },
  { name: 'users', service: 'users', paths: ['/users', '/me'], public: false },
  {
    name: 'companies-public',
    service: 'companies',
    paths: ['/companies'],
    methods: ['GET', 'HEAD'],
    public: true,
  },
  { name: 'companies', service: 'companies', paths: ['/companies'], public: false },
  {
    name: 'catalog-public',
    service: 'catalog',
    paths: ['/products', '/categories'],
    methods: ['GET', 'HEAD'],
    public: true,
  },
  {
    name: 'catalog',
    service: 'catalog',
    paths: ['/products', '/categories', '/inventory'],
    public: false,
  },
  { name: 'carts', service: 'carts', paths: ['/carts'], public: false },
  { name: 'orders', service: 'orders', paths: ['/orders'], public: false },
  { name: 'payments', service: 'payments', paths: ['/payments'], public: false },
  { name: 'checkout', service: 'checkout', paths: ['/checkout'], public: false },
];

export const PLUGIN = {
  jwt: 'tenant-jwt',
  acl: 'tenant-acl',
  rateLimit: 'tenant-rate-limit',
  securityHeaders: 'tenant-security-headers',
  cors: 'tenant-cors',
  sizeLimit: 'tenant-size-limit',
  notFound: 'tenant-not-found',
  suspended: 'tenant-suspended',
  problemDetails: 'tenant-problem-details',
} as const;

/** The plugins on every route but the fallback, authenticated or not. */
function commonPlugins(settings: OperatorSettings): string[] {
  return [
    PLUGIN.rateLimit,
    PLUGIN.securityHeaders,
    PLUGIN.cors,
    PLUGIN.sizeLimit,
    ...(settings.kongProblemDetails ? [PLUGIN.problemDetails] : []),
  ];
}

function meta(
  mp: Marketplace,
  name: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject['metadata'] {
  return {
    name,
    namespace: tenantNames(mp.metadata.name).namespace,
    labels: { ...tenantLabels(mp), ...(extra.labels ?? {}) },
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
    ownerReferences: ownedBy(mp),
  };
}

function kongPlugin(
  mp: Marketplace,
  name: string,
  plugin: string,
  config: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: 'configuration.konghq.com/v1',
    kind: 'KongPlugin',
    metadata: meta(mp, name),
    plugin,
    config,
  };
}

function problem(status: number, title: string, detail: string): string {
  return JSON.stringify({ type: 'about:blank', title, status, detail });
}

export function buildKongPlugins(mp: Marketplace, settings: OperatorSettings): KubeObject[] {
  const names = tenantNames(mp.metadata.name);
  const gateway = mp.spec.gateway ?? {};
  return [
    kongPlugin(mp, PLUGIN.jwt, 'jwt', {
      key_claim_name: 'iss',
      claims_to_verify: ['exp'],
      maximum_expiration: 3600,
      run_on_preflight: false,
    }),
    // jwt alone accepts any consumer's valid token (Kong#12789): ACL pins this tenant.
    kongPlugin(mp, PLUGIN.acl, 'acl', { allow: [names.aclGroup], hide_groups_header: true }),
    kongPlugin(mp, PLUGIN.rateLimit, 'rate-limiting', {
      minute: gateway.rateLimitPerMinute ?? 600,
      // Per client address: every token of a tenant maps to its one issuer consumer, so
      // limiting by consumer would make all of its users share a single allowance.
      limit_by: 'ip',
      policy: 'local',
      fault_tolerant: true,
    }),
    kongPlugin(mp, PLUGIN.securityHeaders, 'response-transformer', {
      add: {
        headers: [
          'X-Content-Type-Options:nosniff',
          'X-Frame-Options:DENY',
          'Strict-Transport-Security:max-age=31536000; includeSubDomains',
          "Content-Security-Policy:default-src 'none'; frame-ancestors 'none'",
          'Referrer-Policy:no-referrer',
        ],
      },
    }),
    // Explicit origins only; with none configured, no cross-origin browser calls at all.
    kongPlugin(mp, PLUGIN.cors, 'cors', {
      origins: gateway.corsOrigins ?? [],
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      headers: ['Authorization', 'Content-Type', 'Idempotency-Key'],
      exposed_headers: ['Location', 'Retry-After'],
      max_age: 600,
    }),
    kongPlugin(mp, PLUGIN.sizeLimit, 'request-size-limiting', {
      allowed_payload_size: gateway.requestSizeLimitKilobytes ?? 1024,
      size_unit: 'kilobytes',
    }),
    kongPlugin(mp, PLUGIN.notFound, 'request-termination', {
      status_code: 404,
      content_type: 'application/problem+json',
      body: problem(404, 'Not Found', 'No such route on this marketplace.'),
    }),
    kongPlugin(mp, PLUGIN.suspended, 'request-termination', {
      status_code: 503,
      content_type: 'application/problem+json',
      body: problem(503, 'Service Unavailable', 'This marketplace is suspended.'),
    }),
    // Kong's own rejections as problem documents: jwt answers 401 through
    // kong.response.exit, which no error template reaches (kong/README.md).
    ...(settings.kongProblemDetails
      ? [kongPlugin(mp, PLUGIN.problemDetails, 'gorten-problem-details', {})]
      : []),
  ];
}

function ingress(
  mp: Marketplace,
  name: string,
  service: ServiceName,
  paths: string[],
  plugins: string[],
  settings: OperatorSettings,
  methods?: string[],
): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(mp, name, {
      labels: { 'gorten.io/route': name },
      annotations: {
        'konghq.com/plugins': plugins.join(','),
        'konghq.com/strip-path': 'false',
        ...(methods ? { 'konghq.com/methods': methods.join(',') } : {}),
      },
    }),
    spec: {
      ingressClassName: settings.ingressClass,
      rules: [
        {
          host: mp.spec.host,
          http: {
            paths: paths.map((path) => ({
              path,
              pathType: 'Prefix',
              backend: { service: { name: service, port: { number: 80 } } },
            })),
          },
        },
      ],
    },
  };
}

export function buildIngresses(mp: Marketplace, settings: OperatorSettings): KubeObject[] {
  // Kong picks the longest matching path, so "/" only catches what no route claims.
  // It needs a backend to be valid; the termination plugin answers before Kong calls it.
  const fallback = ingress(
    mp,
    'fallback',
    'users',
    ['/'],
    [mp.spec.suspended ? PLUGIN.suspended : PLUGIN.notFound, PLUGIN.securityHeaders],
    settings,
  );
  if (mp.spec.suspended) return [fallback];
  const routes = ROUTES.map((r) =>
    ingress(
      mp,
      `route-${r.name}`,
      r.service,
      r.paths,
      r.public ? commonPlugins(settings) : [PLUGIN.jwt, PLUGIN.acl, ...commonPlugins(settings)],
      settings,
      r.methods,
    ),
  );
  return [...routes, fallback];
}

/** The consumer that stands for the tenant's own token issuer (the users service). */
export function buildIssuerConsumer(
  mp: Marketplace,
  settings: OperatorSettings,
  publicPem: string,
): KubeObject[] {
  const names = tenantNames(mp.metadata.name);
  const owners = ownedBy(mp);
  const labels = tenantLabels(mp);
  return [
    credentialSecret(
      names.namespace,
      'issuer-jwt-credential',
      'jwt',
      { key: names.tokenIssuer, algorithm: 'RS256', rsa_public_key: publicPem },
      owners,
      labels,
    ),
    credentialSecret(
      names.namespace,
      'issuer-acl-credential',
      'acl',
      { group: names.aclGroup },
      owners,
      labels,
    ),
    kongConsumer(
      names.namespace,
      'token-issuer',
      `${names.namespace}-issuer`,
      ['issuer-jwt-credential', 'issuer-acl-credential'],
      owners,
      labels,
      settings,
    ),
  ];
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
}

/**
 * Kong silently drops a plugin reference it cannot resolve (Kong#6139), so the operator
 * refuses to write a gateway where a route names a plugin that is not defined, or a
 * KongPlugin names a plugin Kong does not have.
 */
export function checkPluginReferences(objects: readonly KubeObject[]): void {
  const plugins = objects.filter((o) => o.kind === 'KongPlugin');
  const defined = new Set(plugins.map((p) => p.metadata.name));
  const problems: string[] = [];
  for (const p of plugins) {
    if (!KNOWN_KONG_PLUGINS.has(String(p.plugin)))
      problems.push(`KongPlugin ${p.metadata.name} uses unknown plugin ${String(p.plugin)}`);
  }
  for (const o of objects.filter((x) => x.kind === 'Ingress')) {
    const named = (o.metadata.annotations?.['konghq.com/plugins'] ?? '').split(',').filter(Boolean);
    for (const name of named) {
      if (!defined.has(name))
        problems.push(`Ingress ${o.metadata.name} names undefined KongPlugin ${name}`);
    }
  }
  if (problems.length > 0) throw new GatewayConfigError(problems.join('; '));
}

export function buildGatewayPlane(
  mp: Marketplace,
  settings: OperatorSettings,
  publicPem: string,
): KubeObject[] {
  const objects = [
    ...buildKongPlugins(mp, settings),
    ...buildIssuerConsumer(mp, settings, publicPem),
    ...buildIngresses(mp, settings),
  ];
  checkPluginReferences(objects);
  return objects;
}
