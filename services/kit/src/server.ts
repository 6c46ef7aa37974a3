// Listening and stopping gracefully: on close, stop accepting, let requests in flight
// finish, drop idle keep-alive connections, and give up at a deadline; then close the
// service's own connections (MongoDB, AMQP).
import { createServer, type Server } from 'node:http';
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

export async function serve(
  app: Pick<Koa, 'callback'>,
  opts: ServeOptions,
): Promise<RunningServer> {
  const handle = app.callback();
  const server: Server = createServer((req, res) => {
    void handle(req, res);
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
