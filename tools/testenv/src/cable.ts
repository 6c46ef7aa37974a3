// A network cable a test can pull: a TCP relay on loopback in front of one server (the
// broker, the database), so that a client given its URL loses that server — open
// connections dropped, new ones refused — while everyone else keeps using it. A real
// outage as the client sees it, without stopping a server other tests share.
import { connect, createServer, type Socket } from 'node:net';

export interface Cable {
  /** The server's URL with its host and port replaced by the relay's. */
  url: string;
  /** Plugs the cable in, or pulls it (dropping every open connection). */
  connected: (on: boolean) => void;
  close: () => Promise<void>;
}

/** A relay to the host and port of `serverUrl` (amqp://, mongodb://, one host). */
export async function tcpCable(serverUrl: string, { connected = true } = {}): Promise<Cable> {
  const server = new URL(serverUrl);
  const sockets = new Set<Socket>();
  let on = connected;
  const relay = createServer((client) => {
    if (!on) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(server.port), server.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  const url = new URL(server);
  url.host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url: url.toString(),
    connected: (value) => {
      on = value;
      if (!on) for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}
