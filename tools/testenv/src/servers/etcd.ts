import { join } from 'node:path';
import { withFreePorts } from '../ports.js';
import { startServer, eventually } from '../process.js';
import { okBody } from '../http.js';
import type { StartContext } from './context.js';

export function startEtcd(ctx: StartContext): Promise<{ url: string }> {
  return withFreePorts(ctx, ['client', 'peer'], ({ client, peer }, ctx) =>
    startEtcdOn(ctx, client, peer),
  );
}

async function startEtcdOn(
  ctx: StartContext,
  client: number,
  peer: number,
): Promise<{ url: string }> {
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const logFile = join(ctx.logDir, 'etcd.log');
  const command = ctx.binary('etcd');
  const pid = startServer({
    name: 'etcd',
    command,
    logFile,
    args: [
      '--name=gorten',
      `--data-dir=${join(ctx.dataDir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=gorten=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
  });
  ctx.record({ name: 'etcd', pid, match: command });
  await eventually({ what: 'etcd /health', timeoutMs: 30_000, pid, logFile }, async () => {
    const body = await okBody(`${url}/health`);
    return body && (JSON.parse(body) as { health?: string }).health === 'true' ? true : undefined;
  });
  return { url };
}
