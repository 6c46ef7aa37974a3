// Entry point: read config, start tracing (the standard OTEL_* variables; off without an
// endpoint), start, stop cleanly on SIGTERM/SIGINT — tracing last, to export what it holds.
import { ConfigError as TracingConfigError } from '@gorten/kit/config';
import { startTracing } from '@gorten/kit/tracing';
import { ConfigError, loadConfig } from './config.js';
import { createLogger, startOperator } from './operator.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const tracing = startTracing({ service: 'gorten-operator', log });
  const operator = await startOperator(config, log).catch(async (err: unknown) => {
    await tracing.shutdown();
    throw err;
  });
  tracing.countDropsIn(operator.metrics.registry);
  log.info(
    { port: operator.port, leaderElection: config.leaderElection.enabled },
    'gorten operator running',
  );
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(1), 20_000);
    deadline.unref();
    operator
      .stop()
      .finally(() => tracing.shutdown())
      .then(
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
  const bad = err instanceof ConfigError || err instanceof TracingConfigError;
  console.error(bad ? err.message : err);
  process.exit(1);
});
