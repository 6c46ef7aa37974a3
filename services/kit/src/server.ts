// Listening and stopping gracefully: on close, stop accepting, let requests in flight
// finish, drop idle keep-alive connections, and give up at a deadline; then close the
// service's own connections (MongoDB, AMQP). What Node cannot parse (an unknown method
// token, garbled headers) is answered in problem+json too, as the app answers the rest.
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type Koa from 'koa';
import type { Logger } from 'pino';

export interface RunningServer {
  port: number;
  /** Resolves when the server and `onClose` are done; idempotent. */
  close: () => Promise<void>;
}

export interface ServeOptions {
  port: number;
  /** The address to listen on; undefined: every interface. */
  host?: string;
  log: Logger;
  shutdownTimeoutMs: number;
  onClose?: () => Promise<void>;
}

/** Node's own answers to what it cannot parse (its defaults, as problem+json). */
const UNPARSED: Record<string, { status: number; detail: string }> = {
  // A method token outside Node's list never reaches the app: the service implements it
  // for no resource (RFC 9110 §9.1), as the app answers methods it does parse.
  HPE_INVALID_METHOD: {
    status: 501,
    detail: 'The service implements this method for no resource.',
  },
  HPE_HEADER_OVERFLOW: { status: 431, detail: 'The request headers are too large.' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, detail: 'The chunk extensions are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, detail: 'The request took too long to arrive.' },
};

/** The whole HTTP answer to a request Node could not parse; the connection then closes. */
function unparsedAnswer(code: string | undefined): string {
  const { status, detail } = UNPARSED[code ?? ''] ?? {
    status: 400,
    detail: 'The request is not valid HTTP.',
  };
  const title = STATUS_CODES[status] ?? 'Client Error';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail });
  return [
    `HTTP/1.1 ${status} ${title}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

export async function serve(
  app: Pick<Koa, 'callback'>,
  opts: ServeOptions,
): Promise<RunningServer> {
  const handle = app.callback();
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
    else socket.end(unparsedAnswer(err.code));
  });
  const sockets = new Map<Socket, number>(); // socket → requests in flight on it
  server.on('connection', (socket) => {
    sockets.set(socket, 0);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.on('finish', () => {
      const left = (sockets.get(socket) ?? 1) - 1;
      sockets.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  let closing = false;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [socket, inFlight] of sockets) if (inFlight === 0) socket.destroy();
      const deadline = new Promise<'deadline'>((resolve) =>
        setTimeout(() => resolve('deadline'), opts.shutdownTimeoutMs).unref(),
      );
      if ((await Promise.race([stopped, deadline])) === 'deadline') {
        opts.log.warn(
          { open: sockets.size },
          'shutdown deadline reached; closing remaining connections',
        );
        for (const socket of sockets.keys()) socket.destroy();
        await stopped;
      }
      await opts.onClose?.();
    })();
    return closed;
  };
  return { port, close };
}
