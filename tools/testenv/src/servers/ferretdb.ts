// FerretDB speaks the MongoDB wire protocol over SQLite. New authentication is on, so
// SCRAM users (createUser) work and unauthenticated commands are refused, as in production.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { withFreePorts } from '../ports.js';
import { startServer, eventually } from '../process.js';
import type { StartContext } from './context.js';

export interface MongoAccess {
  url: string;
  user: string;
  password: string;
}

export async function pingMongo(url: string): Promise<true> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2_000 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } finally {
    await client.close();
  }
}

/**
 * FerretDB creates its admin user once, in the data: kept data needs the password it
 * was created with, so that one is kept beside it.
 */
function adminPassword(dataDir: string, persistent: boolean): string {
  const file = join(dataDir, 'admin-password');
  if (persistent && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  if (persistent) writeFileSync(file, password, { mode: 0o600 });
  return password;
}

export function startFerretDb(ctx: StartContext): Promise<MongoAccess> {
  const dataDir = join(ctx.dataDir, 'ferretdb');
  mkdirSync(dataDir, { recursive: true });
  const password = adminPassword(dataDir, ctx.persistent);
  return withFreePorts(ctx, ['port'], ({ port }, ctx) =>
    startFerretDbOn(ctx, port, dataDir, password),
  );
}

async function startFerretDbOn(
  ctx: StartContext,
  port: number,
  dataDir: string,
  password: string,
): Promise<MongoAccess> {
  const user = 'gorten-admin';
  const logFile = join(ctx.logDir, 'ferretdb.log');
  const command = ctx.binary('ferretdb');
  const pid = startServer({
    name: 'ferretdb',
    command,
    logFile,
    args: [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--state-dir=-',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=warn',
      '--test-enable-new-auth=true',
      '--setup-database=admin',
      `--setup-username=${user}`,
    ],
    // The password goes through the environment, not the command line `ps` shows.
    env: { ...process.env, FERRETDB_SETUP_PASSWORD: password },
  });
  ctx.record({ name: 'ferretdb', pid, match: command });
  const url = `mongodb://${user}:${password}@127.0.0.1:${port}/?authSource=admin`;
  await eventually(
    { what: 'FerretDB ping as the admin user', timeoutMs: 30_000, pid, logFile },
    () => pingMongo(url),
  );
  return { url, user, password };
}
