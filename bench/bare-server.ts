// The baseline of the kit-overhead benchmark: a bare node:http handler answering every
// request with what a kit service's GET /healthz answers ({"status":"ok"}), and nothing
// else — no request id, logging, metrics, headers, CORS, error handling or routing.
import { createServer } from 'node:http';

const body = JSON.stringify({ status: 'ok' });
const headers = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': Buffer.byteLength(body),
};

createServer((_request, response) => {
  response.writeHead(200, headers);
  response.end(body);
}).listen(Number(process.env.HTTP_PORT));

process.once('SIGTERM', () => process.exit(0));
