// The local stand-in for Kong: one address for the tenant's whole API, routed by the
// operator's own route table (the paths Kong gets), a 404 problem+json for anything else
// (Kong's catch-all), and Swagger UI over every service's OpenAPI document. Kong's other
// plugins are not imitated: the services verify tokens and authorize on their own.
import { createReadStream } from 'node:fs';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ROUTES } from '@gorten/operator';

/** The service that serves `path`, by the operator's route table. */
export function serviceFor(method: string, path: string): string | undefined {
  for (const route of ROUTES) {
    if (route.methods && !route.methods.includes(method)) continue;
    if (route.paths.some((p) => path === p || path.startsWith(`${p}/`))) return route.service;
  }
  return undefined;
}

const SWAGGER_ASSETS = new Map([
  ['swagger-ui.css', 'text/css'],
  ['swagger-ui-bundle.js', 'text/javascript'],
  ['swagger-ui-standalone-preset.js', 'text/javascript'],
  ['favicon-32x32.png', 'image/png'],
]);

function swaggerPage(services: string[]): string {
  const specs = JSON.stringify(services.map((s) => ({ url: `/openapi/${s}.json`, name: s })));
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gorten API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script type="application/json" id="specs">${specs}</script>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>
`;
}

// Separate from the page so the page needs no inline script.
const SWAGGER_INIT = `window.ui = SwaggerUIBundle({
  urls: JSON.parse(document.getElementById('specs').textContent),
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
  persistAuthorization: true,
});
`;

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

function forward(req: IncomingMessage, res: ServerResponse, port: number, path: string): void {
  const upstream = request(
    {
      host: '127.0.0.1',
      port,
      method: req.method,
      path,
      headers: {
        ...req.headers,
        'x-forwarded-for': req.socket.remoteAddress ?? '',
        'x-forwarded-host': req.headers.host ?? '',
        'x-forwarded-proto': 'http',
      },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('error', () => res.destroy());
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) problem(res, 502, 'Bad Gateway', 'The service did not answer.');
    else res.destroy();
  });
  // A client that goes away mid-request ends the upstream request too, and nothing throws.
  req.on('error', () => upstream.destroy());
  res.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

/** Starts the gateway on 127.0.0.1:port in front of the services' local ports. */
export function startGateway(
  port: number,
  upstreams: Map<string, number>,
  onError: (err: Error) => void,
): Promise<Server> {
  const swaggerDir = dirname(
    createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'),
  );
  const page = swaggerPage([...upstreams.keys()].filter((s) => s !== 'notifications'));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const method = req.method ?? 'GET';
    if (url.pathname === '/' || url.pathname === '/docs' || url.pathname === '/docs/') {
      res.writeHead(url.pathname === '/docs/' ? 200 : 302, {
        'content-type': 'text/html; charset=utf-8',
        ...(url.pathname === '/docs/' ? {} : { location: '/docs/' }),
      });
      res.end(url.pathname === '/docs/' ? page : '');
      return;
    }
    if (url.pathname === '/docs/init.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(SWAGGER_INIT);
      return;
    }
    const asset = url.pathname.startsWith('/docs/') ? url.pathname.slice(6) : undefined;
    if (asset && SWAGGER_ASSETS.has(asset)) {
      res.writeHead(200, { 'content-type': SWAGGER_ASSETS.get(asset) ?? '' });
      createReadStream(join(swaggerDir, asset))
        .on('error', () => res.destroy())
        .pipe(res);
      return;
    }
    const spec = /^\/openapi\/([a-z]+)\.json$/.exec(url.pathname)?.[1];
    if (spec && upstreams.has(spec)) {
      forward(req, res, upstreams.get(spec) ?? 0, '/openapi.json');
      return;
    }
    const service = serviceFor(method, url.pathname);
    const upstream = service === undefined ? undefined : upstreams.get(service);
    if (upstream === undefined) {
      problem(res, 404, 'Not Found', `No route for ${method} ${url.pathname}.`);
      return;
    }
    forward(req, res, upstream, req.url ?? '/');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', onError);
      resolve(server);
    });
  });
}
