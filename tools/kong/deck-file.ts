// The tenant gateway as a decK file (_format_version 3.0) for a standalone DB-less Kong.
// It is translated from the objects the operator writes for the Kong Ingress Controller
// (buildGatewayPlane; each Service's edge annotations and KongUpstreamPolicy), so the
// standalone policy cannot drift from the in-cluster one: same routes, plugin configs and
// consumer, same timeouts, retries, health checks and balancing.
import { Document, Scalar, type Alias, type YAMLMap } from 'yaml';
import {
  buildGatewayPlane,
  buildService,
  buildUpstreamPolicy,
  DEFAULT_SETTINGS,
  EDGE_ANNOTATIONS,
  HTTP_PORT,
  SERVICE_NAMES,
  secretValue,
  type KubeObject,
  type Marketplace,
  type OperatorSettings,
} from '@gorten/operator';

/** decK substitutes DECK_-prefixed variables when it reads the file: no key is committed. */
export const PUBLIC_KEY_ENV = 'DECK_JWT_PUBLIC_KEY';
const PUBLIC_KEY_REF = `\${{ env "${PUBLIC_KEY_ENV}" }}`;

/**
 * decK's schema requires a secret on every JWT credential, but an RS256 credential is
 * verified with rsa_public_key only, and Kong rejects tokens whose alg differs from the
 * credential's — so this value is never used to verify anything.
 */
export const UNUSED_JWT_SECRET = 'unused-rs256-verifies-with-rsa-public-key';
const PUBLIC_KEY_ALGORITHMS = new Set(['RS256', 'RS512', 'ES256']);

export interface DeckPlugin {
  name: string;
  /** The operator's KongPlugin this is: one tag, also the YAML anchor of its first use. */
  tags: [string];
  config: Record<string, unknown>;
}

export interface DeckRoute {
  name: string;
  hosts: string[];
  paths: string[];
  methods?: string[];
  protocols: string[];
  strip_path: boolean;
  preserve_host: boolean;
  regex_priority: number;
  plugins: DeckPlugin[];
}

export interface DeckService {
  name: string;
  /** Its upstream's name as host: Kong balances over the upstream's targets. */
  url: string;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  retries: number;
  routes: DeckRoute[];
}

export interface DeckUpstream {
  name: string;
  algorithm: string;
  healthchecks: Record<string, unknown>;
  targets: { target: string }[];
}

export interface DeckConsumer {
  username: string;
  jwt_secrets: { key: string; algorithm: string; secret: string; rsa_public_key: string }[];
  acls: { group: string }[];
}

export interface DeckFile {
  _format_version: '3.0';
  services: DeckService[];
  /** Routes without a service: those a request-termination plugin answers (the catch-all). */
  routes: DeckRoute[];
  upstreams: DeckUpstream[];
  consumers: DeckConsumer[];
}

/**
 * Where Kong reaches a service on a single host: each service runs in its own container
 * named after it (a Compose or Podman network) and listens on the image's HTTP port.
 */
export function targetOf(service: string): string {
  return `${service}:${HTTP_PORT}`;
}

/** The upstream of a service: a name of its own, so Kong never mistakes it for the target's host. */
export function upstreamName(service: string): string {
  return `${service}.upstream`;
}

/** The Kong service fields KIC makes of the edge annotations on a Kubernetes Service. */
function edgeFieldsOf(
  service: KubeObject,
): Pick<DeckService, 'connect_timeout' | 'read_timeout' | 'write_timeout' | 'retries'> {
  const annotations = service.metadata.annotations ?? {};
  const known = new Set<string>(Object.values(EDGE_ANNOTATIONS));
  const unknown = Object.keys(annotations).filter((a) => !known.has(a));
  if (unknown.length > 0)
    throw new Error(`Service ${service.metadata.name}: untranslated annotations ${unknown.join()}`);
  const count = (annotation: string): number => {
    const value = Number(annotations[annotation]);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`Service ${service.metadata.name}: ${annotation} is not a count`);
    return value;
  };
  if (annotations[EDGE_ANNOTATIONS.upstreamPolicy] !== service.metadata.name)
    throw new Error(`Service ${service.metadata.name} names another KongUpstreamPolicy`);
  return {
    connect_timeout: count(EDGE_ANNOTATIONS.connectTimeout),
    read_timeout: count(EDGE_ANNOTATIONS.readTimeout),
    write_timeout: count(EDGE_ANNOTATIONS.writeTimeout),
    retries: count(EDGE_ANNOTATIONS.retries),
  };
}

// KongUpstreamPolicy's healthchecks fields and the Kong upstream fields KIC writes for them.
const HEALTHCHECK_FIELDS: Readonly<Record<string, string>> = {
  active: 'active',
  passive: 'passive',
  threshold: 'threshold',
  type: 'type',
  concurrency: 'concurrency',
  timeout: 'timeout',
  headers: 'headers',
  httpPath: 'http_path',
  httpsSni: 'https_sni',
  httpsVerifyCertificate: 'https_verify_certificate',
  healthy: 'healthy',
  unhealthy: 'unhealthy',
  interval: 'interval',
  successes: 'successes',
  httpStatuses: 'http_statuses',
  httpFailures: 'http_failures',
  tcpFailures: 'tcp_failures',
  timeouts: 'timeouts',
};

function healthchecksOf(value: unknown, path: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => {
      const field = HEALTHCHECK_FIELDS[key];
      if (!field) throw new Error(`${path}.${key} is not translated`);
      // Header names are the user's, not schema fields.
      return [field, key === 'headers' ? child : healthchecksOf(child, `${path}.${key}`)];
    }),
  );
}

/** The Kong upstream KIC makes of a KongUpstreamPolicy, with the service's one target. */
function upstreamOf(policy: KubeObject, service: string): DeckUpstream {
  const { algorithm, healthchecks, ...rest } = policy.spec as {
    algorithm: string;
    healthchecks: unknown;
  };
  if (Object.keys(rest).length > 0)
    throw new Error(`KongUpstreamPolicy ${service}: untranslated ${Object.keys(rest).join()}`);
  return {
    name: upstreamName(service),
    algorithm,
    healthchecks: healthchecksOf(healthchecks, `KongUpstreamPolicy ${service}`) as Record<
      string,
      unknown
    >,
    targets: [{ target: targetOf(service) }],
  };
}

// The Ingress annotations the operator sets; any other would be policy lost in translation.
const PLUGINS = 'konghq.com/plugins';
const STRIP_PATH = 'konghq.com/strip-path';
const METHODS = 'konghq.com/methods';
const UNDERSTOOD_ANNOTATIONS = new Set([PLUGINS, STRIP_PATH, METHODS]);
const TRANSLATED_KINDS = new Set(['KongPlugin', 'Ingress', 'KongConsumer', 'Secret']);

interface IngressSpec {
  rules: {
    host: string;
    http: {
      paths: { path: string; pathType: string; backend: { service: { name: string } } }[];
    };
  }[];
}

/** The Kong paths KIC makes of a Kubernetes Prefix path: `/carts` matches `/carts/x`, not `/cartsx`. */
function kongPaths(path: string, pathType: string): string[] {
  if (pathType !== 'Prefix') throw new Error(`pathType ${pathType} of ${path} is not translated`);
  const base = path.replace(/^\/+|\/+$/g, '');
  if (base === '') return ['/'];
  if (!/^[A-Za-z0-9/_-]+$/.test(base))
    throw new Error(`path ${path} would need regex escaping, which the translation lacks`);
  return [`/${base}/`, `~/${base}$`];
}

function commaList(value: string | undefined): string[] {
  return (value ?? '').split(',').filter(Boolean);
}

function routeOf(
  ingress: KubeObject,
  plugins: ReadonlyMap<string, DeckPlugin>,
): { route: DeckRoute; service: string } {
  const annotations = ingress.metadata.annotations ?? {};
  const unknown = Object.keys(annotations).filter((a) => !UNDERSTOOD_ANNOTATIONS.has(a));
  if (unknown.length > 0)
    throw new Error(`Ingress ${ingress.metadata.name}: untranslated annotations ${unknown.join()}`);
  const { rules } = ingress.spec as IngressSpec;
  const [rule, ...moreRules] = rules;
  if (!rule || moreRules.length > 0)
    throw new Error(`Ingress ${ingress.metadata.name}: expected exactly one rule`);
  const services = new Set(rule.http.paths.map((p) => p.backend.service.name));
  const [service, ...moreServices] = services;
  if (!service || moreServices.length > 0)
    throw new Error(`Ingress ${ingress.metadata.name}: expected exactly one backend service`);
  const methods = commaList(annotations[METHODS]);
  const route: DeckRoute = {
    name: ingress.metadata.name,
    hosts: [rule.host],
    paths: rule.http.paths.flatMap((p) => kongPaths(p.path, p.pathType)),
    ...(methods.length > 0 ? { methods } : {}),
    // KIC's defaults for an Ingress route, so both gateways match and forward alike.
    protocols: ['http', 'https'],
    strip_path: annotations[STRIP_PATH] === 'true',
    preserve_host: true,
    regex_priority: 0,
    plugins: commaList(annotations[PLUGINS]).map((name) => {
      const plugin = plugins.get(name);
      if (!plugin) throw new Error(`Ingress ${ingress.metadata.name} names unknown plugin ${name}`);
      return plugin;
    }),
  };
  return { route, service };
}

function consumerOf(consumer: KubeObject, objects: readonly KubeObject[]): DeckConsumer {
  const secrets = (consumer.credentials as string[]).map((name) => {
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
    if (!secret) throw new Error(`KongConsumer ${consumer.metadata.name}: no Secret ${name}`);
    return secret;
  });
  const value = (secret: KubeObject, key: string): string => {
    const found = secretValue(secret, key);
    if (found === undefined) throw new Error(`credential ${secret.metadata.name} lacks ${key}`);
    return found;
  };
  const ofType = (type: string) => secrets.filter((s) => credentialType(s) === type);
  const untranslated = secrets.filter((s) => !['jwt', 'acl'].includes(credentialType(s)));
  if (untranslated.length > 0)
    throw new Error(`untranslated credentials ${untranslated.map((s) => s.metadata.name).join()}`);
  return {
    username: String(consumer.username),
    jwt_secrets: ofType('jwt').map((s) => {
      const algorithm = value(s, 'algorithm');
      if (!PUBLIC_KEY_ALGORITHMS.has(algorithm))
        throw new Error(`credential ${s.metadata.name}: ${algorithm} would need a real secret`);
      return {
        key: value(s, 'key'),
        algorithm,
        secret: UNUSED_JWT_SECRET,
        rsa_public_key: value(s, 'rsa_public_key'),
      };
    }),
    acls: ofType('acl').map((s) => ({ group: value(s, 'group') })),
  };
}

function credentialType(secret: KubeObject): string {
  return secret.metadata.labels?.['konghq.com/credential'] ?? '';
}

/** A standalone Kong loads gorten-problem-details (kong/kong.conf): every route has it. */
export const STANDALONE_SETTINGS: OperatorSettings = {
  ...DEFAULT_SETTINGS,
  kongProblemDetails: true,
};

/** The decK file for one marketplace, with the public key left to DECK_JWT_PUBLIC_KEY. */
export function deckFileFor(mp: Marketplace): DeckFile {
  const objects = buildGatewayPlane(mp, STANDALONE_SETTINGS, PUBLIC_KEY_REF);
  const untranslated = objects.filter((o) => !TRANSLATED_KINDS.has(o.kind));
  if (untranslated.length > 0)
    throw new Error(`untranslated kinds ${untranslated.map((o) => o.kind).join()}`);
  const plugins = new Map<string, DeckPlugin>(
    objects
      .filter((o) => o.kind === 'KongPlugin')
      .map((p) => [
        p.metadata.name,
        {
          name: String(p.plugin),
          tags: [p.metadata.name],
          config: p.config as Record<string, unknown>,
        },
      ]),
  );
  const byService = new Map<string, DeckRoute[]>();
  const serviceless: DeckRoute[] = [];
  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    const { route, service } = routeOf(ingress, plugins);
    // The Ingress needs a backend to be valid; a Kong route does not, and without one a
    // terminating route can never forward, even if its plugin were lost.
    if (route.plugins.some((p) => p.name === 'request-termination')) serviceless.push(route);
    else byService.set(service, [...(byService.get(service) ?? []), route]);
  }
  const routedServices = SERVICE_NAMES.filter((name) => byService.has(name));
  return {
    _format_version: '3.0',
    services: routedServices.map((name) => ({
      name,
      url: `http://${upstreamName(name)}:${HTTP_PORT}`,
      ...edgeFieldsOf(buildService(mp, name)),
      routes: byService.get(name) ?? [],
    })),
    routes: serviceless,
    upstreams: routedServices.map((name) => upstreamOf(buildUpstreamPolicy(mp, name), name)),
    consumers: objects.filter((o) => o.kind === 'KongConsumer').map((c) => consumerOf(c, objects)),
  };
}

/**
 * YAML for the decK file: each plugin written once under its KongPlugin name as an anchor
 * and aliased on later routes; the public key a block scalar whose env reference is
 * completed by `withKeyIndent` once the final indentation is known.
 */
export function deckYaml(file: DeckFile, header: string): string {
  const doc = new Document();
  const written = new Map<DeckPlugin, YAMLMap>();
  const plugin = (p: DeckPlugin): YAMLMap | Alias => {
    const seen = written.get(p);
    if (seen) return doc.createAlias(seen);
    const node = doc.createNode(p, { aliasDuplicateObjects: false }) as YAMLMap;
    node.anchor = p.tags[0];
    written.set(p, node);
    return node;
  };
  const route = (r: DeckRoute) => ({ ...r, plugins: r.plugins.map(plugin) });
  const blockLiteral = (value: string) => {
    const scalar = new Scalar(value);
    scalar.type = Scalar.BLOCK_LITERAL;
    return scalar;
  };
  // Built in document order, so every anchor precedes its aliases.
  const services = file.services.map((s) => ({ ...s, routes: s.routes.map(route) }));
  const routes = file.routes.map(route);
  const consumers = file.consumers.map((c) => ({
    ...c,
    jwt_secrets: c.jwt_secrets.map((j) => ({
      ...j,
      rsa_public_key: blockLiteral(j.rsa_public_key),
    })),
  }));
  doc.contents = doc.createNode(
    {
      _format_version: file._format_version,
      services,
      routes,
      upstreams: file.upstreams,
      consumers,
    },
    { aliasDuplicateObjects: false },
  );
  doc.commentBefore = header;
  return doc.toString({ lineWidth: 0 });
}

/**
 * decK pastes a variable's value into the text before parsing it, so a multi-line PEM
 * must be re-indented to the block scalar's depth (decK's `indent` template function).
 */
export function withKeyIndent(yamlText: string): string {
  return yamlText.replace(
    /^( +)\$\{\{ env "(DECK_[A-Z0-9_]+)" \}\}$/gm,
    (_line, spaces: string, name: string) =>
      `${spaces}\${{ env "${name}" | indent ${spaces.length} }}`,
  );
}
