// Entry point: read config, start, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.js';
import { createLogger, startOperator } from './operator.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const operator = await startOperator(config, log);
  log.info(
    { port: operator.port, leaderElection: config.leaderElection.enabled },
    'gorten operator running',
  );
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(1), 20_000);
    deadline.unref();
    operator.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.once('SIGINT', () => {
    shutdown('SIGINT');
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
