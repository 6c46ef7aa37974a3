// Choosing ports for servers that cannot bind port 0 and report it (etcd, the Kubernetes
// components, kwok, FerretDB, RabbitMQ). A port the kernel hands out for `bind(0)` comes
// from its ephemeral range, which every outgoing connection and every other `bind(0)` on
// the machine draws from too: in the seconds between choosing it and a server binding it,
// someone else may take it. So ports are drawn at random from below that range, never
// twice by one process, and a server that still finds its port taken is started again on
// new ones (`withFreePorts`).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';
import type { StartContext } from './servers/context.js';
import type { ServerProcess } from './state.js';
import { PortInUseError, stopServer } from './process.js';

const LOWEST = 10_000;
const handedOut = new Set<number>();

/** The kernel's ephemeral range (Linux), or the IANA default elsewhere. */
export function ephemeralRange(
  read = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
): [number, number] {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    if (low && high && low <= high) return [low, high];
  } catch {
    // not Linux
  }
  return [49_152, 65_535];
}

/** Where to draw ports from: below the ephemeral range, else above it, else anywhere. */
export function candidateRange([low, high]: [number, number]): [number, number] | undefined {
  if (low - LOWEST >= 1_000) return [LOWEST, low - 1];
  if (65_535 - high >= 1_000) return [high + 1, 65_535];
  return undefined;
}

function canListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process never handed out. */
export async function freePort(): Promise<number> {
  const range = candidateRange(ephemeralRange());
  for (let tries = 0; tries < 200; tries++) {
    const wanted = range ? randomInt(range[0], range[1] + 1) : 0;
    if (handedOut.has(wanted)) continue;
    const port = await canListen(wanted);
    if (port === undefined || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free TCP port found on 127.0.0.1 after 200 tries');
}

/** A free port for each name. */
export async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const ports = {} as Record<K, number>;
  for (const name of names) ports[name] = await freePort();
  return ports;
}

const PORT_ATTEMPTS = 4;

/**
 * Runs `start` on a fresh port for each name. When a server reports that a port was taken
 * meanwhile, the processes this attempt started are stopped and it starts again on new ports.
 */
export async function withFreePorts<K extends string, T>(
  ctx: StartContext,
  names: readonly K[],
  start: (ports: Record<K, number>, ctx: StartContext) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started: ServerProcess[] = [];
    const attemptCtx: StartContext = {
      ...ctx,
      record(proc) {
        started.push(proc);
        ctx.record(proc);
      },
    };
    try {
      return await start(await (ctx.choosePorts ?? freePorts)(names), attemptCtx);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt === PORT_ATTEMPTS) throw err;
      for (const proc of started.reverse()) await stopServer(proc.pid, 5_000);
      console.error(
        `testenv: ${err.what}: a port was taken meanwhile (${err.logLine}); starting again on new ports`,
      );
    }
  }
}
