// kong/kong.conf, what a standalone Kong needs besides kong.yml: exactly the plugins the
// operator uses, our own plugin's Lua where Kong looks for it, no Lua from the
// configuration, nothing that widens nginx's retries, and an error template that turns
// each message Kong puts into it (Kong 3.4's own texts, listed below) into a problem
// document. Pure: the files are read as Kong reads them, no Kong runs.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import {
  buildKongPlugins,
  DEFAULT_SETTINGS,
  KNOWN_KONG_PLUGINS,
  type Marketplace,
} from '@gorten/operator';
import { luaFormat } from './kong-lua.js';

const ROOT = join(import.meta.dirname, '..', '..');
const KONG = join(ROOT, 'kong');

/** key = value lines; `#` starts a comment line (Kong's own format). */
function readKongConf(file: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) continue;
    const match = /^([a-z0-9_]+)\s*=\s*(.*)$/.exec(text);
    if (!match) throw new Error(`kong.conf: not a setting: ${line}`);
    settings.set(match[1]!, match[2]!);
  }
  return settings;
}

const conf = readKongConf(join(KONG, 'kong.conf'));
const deck = parse(readFileSync(join(KONG, 'kong.yml'), 'utf8')) as {
  services: { routes: { plugins: { name: string }[] }[] }[];
  routes: { plugins: { name: string }[] }[];
};
const mp = parse(readFileSync(join(ROOT, 'examples', 'marketplace.yaml'), 'utf8')) as Marketplace;

/**
 * Every message Kong 3.4 gives kong.response.error or its nginx error handler, for the
 * answers that can reach a tenant's client through kong.yml's plugins: acl, rate-limiting
 * and request-size-limiting (plugins/*\/handler.lua), the router and balancer
 * (runloop/handler.lua, init.lua, runloop/balancer/init.lua) and error_handlers.lua.
 */
const KONG_MESSAGES = [
  'Unauthorized', // acl 401, no consumer
  'You cannot consume this service', // acl 403
  'API rate limit exceeded', // rate-limiting 429 (error_message default)
  'Request size limit exceeded', // request-size-limiting 413 and 417
  'A valid Content-Length header is required', // request-size-limiting 411
  'no Route matched with those values', // router 404
  'no Service found with those values', // 503
  'failure to get a peer from the ring-balancer', // 503: every target unhealthy
  'name resolution failed', // 503
  'Bad request',
  'Not found',
  'Method not allowed',
  'Request timeout',
  'Length required',
  'Precondition failed',
  'Payload too large',
  'URI too long',
  'Expectation failed',
  'Request header or cookie too large',
  'An unexpected error occurred',
  'An invalid response was received from the upstream server', // 502
  'The upstream server is currently unavailable', // 503
  'The upstream server is timing out', // 504
  'The upstream server responded with 599',
];

describe('kong/kong.conf', () => {
  it('loads exactly the plugins the operator may write and kong.yml uses', () => {
    const loaded = (conf.get('plugins') ?? '').split(',').map((p) => p.trim());
    expect(loaded.length).toBe(new Set(loaded).size);
    expect(new Set(loaded)).toEqual(KNOWN_KONG_PLUGINS);
    const used = new Set(
      [...deck.services.flatMap((s) => s.routes), ...deck.routes].flatMap((r) =>
        r.plugins.map((p) => p.name),
      ),
    );
    expect(used).toEqual(KNOWN_KONG_PLUGINS);
    const standalone = { ...DEFAULT_SETTINGS, kongProblemDetails: true }; // as kong.yml is made
    for (const plugin of buildKongPlugins(mp, standalone)) expect(loaded).toContain(plugin.plugin);
    expect(loaded).not.toContain('bundled');
    expect(loaded).not.toContain('pre-function');
    expect(loaded).not.toContain('post-function');
  });

  it('runs no Lua from the configuration', () => {
    expect(conf.get('untrusted_lua')).toBe('off');
  });

  it("finds gorten-problem-details' Lua where kong/README.md mounts kong/plugins", () => {
    // docker run -v "$PWD/kong/plugins/<name>:/etc/kong/lua/kong/plugins/<name>:ro"
    const mounted = '/etc/kong/lua/';
    const templates = (conf.get('lua_package_path') ?? '').split(';');
    expect(templates.slice(-2)).toEqual(['', '']); // ';;': Kong's own path follows
    for (const module of ['handler', 'schema']) {
      const wanted = `kong/plugins/gorten-problem-details/${module}`;
      const found = templates
        .filter((t) => t.startsWith(mounted))
        .map((t) => join(ROOT, t.slice(mounted.length).replace('?', wanted)))
        .filter((file) => existsSync(file));
      expect(found).toEqual([join(KONG, 'plugins', 'gorten-problem-details', `${module}.lua`)]);
    }
  });

  it("never widens nginx's proxy_next_upstream: a POST that was sent is never sent again", () => {
    const injected = [...conf.keys()].filter(
      (key) =>
        key.includes('next_upstream') ||
        key.includes('intercept_errors') ||
        key.startsWith('nginx_proxy_') ||
        key.startsWith('nginx_location_'),
    );
    expect(injected).toEqual([]);
  });

  it('runs DB-less on the rendered kong.yml', () => {
    expect(conf.get('database')).toBe('off');
    expect(conf.get('declarative_config')).toMatch(/^\/.+\.yml$/);
  });

  it("answers Kong's own errors as JSON when the client names no type", () => {
    expect(conf.get('error_default_type')).toBe('application/json');
  });

  it("fills the JSON error template to a problem document with each of Kong's messages", () => {
    const path = conf.get('error_template_json') ?? '';
    expect(path).toMatch(/^\/etc\/kong\//);
    const template = readFileSync(join(KONG, basename(path)), 'utf8');
    for (const message of KONG_MESSAGES) {
      const body = JSON.parse(luaFormat(template, message)) as unknown;
      // Only the message reaches the template (string.format with one argument), so no
      // status and no title: for about:blank the title is the status's phrase (RFC 9457).
      expect(body).toEqual({ type: 'about:blank', detail: message });
    }
  });
});
