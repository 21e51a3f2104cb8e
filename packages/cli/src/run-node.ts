import { ConfigError, DEFAULT_DRAIN_TIMEOUT_MS, type Role } from '@restpipe/core';
import { createGateway, listenGateway } from '@restpipe/gateway';
import { Observer } from '@restpipe/metrics';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { resolveConfig, type NodeConfig } from './config.js';
import { loadApiKey, loadTlsMaterial } from './files.js';
import { helpText } from './flags.js';
import { loadHandler } from './handler-loader.js';
import { createLogs, type Logs } from './logger.js';
import { clientNode, serverNode, type PipeNode } from './pipe-node.js';

/** Exit codes: 0 done, 1 failed while running, 2 bad flags, values or files. */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

/** Entry point of rp-server and rp-client. */
export async function main(role: Role, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const command = role === 'server' ? 'rp-server' : 'rp-client';
  let config: NodeConfig;
  try {
    const parsed = resolveConfig(role, argv, env);
    if (parsed.help) {
      process.stdout.write(helpText(role));
      return;
    }
    config = parsed.config;
  } catch (error) {
    return fail(command, error);
  }
  const logs = createLogs(config.logLevel, role);
  const { logger } = logs;
  guardProcess(logger);
  try {
    await run(config, logs);
  } catch (error) {
    return fail(command, error);
  }
}

function fail(command: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${command}: ${message}\n`);
  process.exitCode = error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
}

async function run(config: NodeConfig, { logger, events }: Logs): Promise<void> {
  const tls = loadTlsMaterial(config);
  const apiKey = loadApiKey(config);
  const handler = await loadHandler(config.handler, config.role);
  const node = config.role === 'server' ? serverNode(config, tls, handler, logger) : clientNode(config, tls, handler, logger);
  const observer = new Observer({
    owner: node.pipe,
    statsd: config.statsd,
    prefix: config.statsdPrefix,
    connections: () => node.status.peers(),
    logger: events,
  });
  const gateway = createGateway({
    status: node.status,
    send: node.send,
    maxEventBytes: config.maxEventBytes,
    timeoutMs: config.timeoutMs,
    exposeTracebacks: config.exposeTracebacks,
    apiKey,
    logger,
    metrics: observer.prometheus,
  });
  const pipeAddress = await node.start();
  const gatewayAddress = await listenGateway(gateway, config.gateway);
  logger.info({ pipe: pipeAddress, gateway: gatewayAddress ?? 'off', name: node.status.name }, `rp-${config.role} ready`);
  handleSignals(config, node, gateway, logger, () => observer.close());
}

function handleSignals(config: NodeConfig, node: PipeNode, gateway: FastifyInstance, logger: Logger, closeMetrics: () => Promise<void>): void {
  process.on('SIGHUP', () => {
    try {
      logger.info({ result: node.reload(loadTlsMaterial(config)) }, 'SIGHUP: certificates reloaded');
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'SIGHUP: reload failed; keeping the current certificates');
    }
  });
  let draining = false;
  const drain = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    draining = true;
    const hardStop = setTimeout(() => process.exit(0), DEFAULT_DRAIN_TIMEOUT_MS + 2_000);
    hardStop.unref();
    logger.info({ signal, timeoutMs: DEFAULT_DRAIN_TIMEOUT_MS }, 'draining');
    const closingGateway = gateway.close();
    void node
      .drain(DEFAULT_DRAIN_TIMEOUT_MS)
      .then(() => closingGateway)
      .then(closeMetrics)
      .catch((error: Error) => logger.error({ err: error.message }, 'drain failed'))
      .finally(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  process.on('SIGTERM', drain);
  process.on('SIGINT', drain);
}

/** No peer, packet or request may take the process down: log and keep serving. */
function guardProcess(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled rejection (kept running)');
  });
  process.on('uncaughtException', (error) => {
    logger.error({ err: error.stack }, 'uncaught exception (kept running)');
  });
}
