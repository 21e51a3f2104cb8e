import { ConfigError, DEFAULT_DRAIN_TIMEOUT_MS, SOFTWARE, StoreError, type Role } from '@restpipe/core';
import { createGateway, listenGateway, SigningKeyRing } from '@restpipe/gateway';
import { Observer, RATE_BUCKET_MS } from '@restpipe/metrics';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { resolveConfig, type NodeConfig } from './config.js';
import { loadApiKey, loadSigningKeys, loadTlsMaterial } from './files.js';
import { helpText } from './flags.js';
import { loadHandler } from './handler-loader.js';
import { EXIT_FAILURE, Lifecycle, type NodeActions } from './lifecycle.js';
import { createLogs, type Logs } from './logger.js';
import { clientNode, serverNode, type PipeNode } from './pipe-node.js';

/** Exit codes: 0 done, 1 failed while running, 2 bad flags, values or files. */
export const EXIT_USAGE = 2;
export { EXIT_FAILURE };

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
  // Before anything slow: signals and escaped errors, see lifecycle.ts.
  const lifecycle = new Lifecycle(logs.logger);
  try {
    await run(config, logs, lifecycle);
  } catch (error) {
    fail(command, error);
    lifecycle.startFailed(process.exitCode as number);
  }
}

function fail(command: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${command}: ${message}\n`);
  // A data directory that cannot be used (held by another process, corrupt, unwritable) is a start-up error like a bad flag.
  process.exitCode = error instanceof ConfigError || error instanceof StoreError ? EXIT_USAGE : EXIT_FAILURE;
}

async function run(config: NodeConfig, { logger, events }: Logs, lifecycle: Lifecycle): Promise<void> {
  const tls = loadTlsMaterial(config);
  const apiKey = loadApiKey(config);
  const keys = loadSigningKeys(config);
  const signingKeys = keys && new SigningKeyRing(keys);
  const handler = await loadHandler(config.handler, config.role);
  const node = config.role === 'server' ? serverNode(config, tls, handler, logger) : clientNode(config, tls, handler, logger);
  const observer = new Observer({
    owner: node.pipe,
    statsd: config.statsd,
    prefix: config.statsdPrefix,
    connections: () => node.status.peers(),
    jobsPending: () => node.pipe.durable?.unfinished ?? 0,
    logger: events,
  });
  const gateway = createGateway({
    status: node.status,
    send: node.send,
    broadcast: node.broadcast,
    maxEventBytes: config.maxEventBytes,
    timeoutMs: config.timeoutMs,
    exposeTracebacks: config.exposeTracebacks,
    apiKey,
    signingKeys,
    maxNonces: config.maxNonces,
    nonceJournal: () => node.pipe.durable?.store.nonces,
    logger,
    metrics: observer.prometheus,
    jobs: () => node.pipe.durable,
    holds: () => node.pipe.durable?.holds,
    watch: { calls: observer.calls, closed: observer.closed, rates: () => ({ bucketMs: RATE_BUCKET_MS, points: observer.calls.rates.points() }) },
    software: SOFTWARE,
  });
  const pipeAddress = await node.start();
  const gatewayAddress = await listenGateway(gateway, config.gateway);
  const dataDir = node.pipe.durable?.store.dir ?? 'off';
  logger.info({ pipe: pipeAddress, gateway: gatewayAddress ?? 'off', name: node.status.name, dataDir }, `rp-${config.role} ready`);
  lifecycle.started(nodeActions(config, node, gateway, logger, () => observer.close(), signingKeys));
}

/** SIGHUP: the keys file is read again; a bad one is logged and the keys in use are kept. */
function reloadSigningKeys(config: NodeConfig, ring: SigningKeyRing, logger: Logger): void {
  try {
    const keys = loadSigningKeys(config);
    if (keys) ring.replace(keys);
    logger.info({ keyIds: [...ring.keys.keys()] }, 'SIGHUP: signing keys reloaded');
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'SIGHUP: the signing keys file could not be used; keeping the current keys');
  }
}

function nodeActions(
  config: NodeConfig, node: PipeNode, gateway: FastifyInstance, logger: Logger, closeMetrics: () => Promise<void>, signingKeys: SigningKeyRing | undefined,
): NodeActions {
  return {
    reload: () => {
      try {
        logger.info({ result: node.reload(loadTlsMaterial(config)) }, 'SIGHUP: certificates reloaded');
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'SIGHUP: reload failed; keeping the current certificates');
      }
      if (signingKeys) reloadSigningKeys(config, signingKeys, logger);
    },
    drain: () => {
      const closingGateway = gateway.close();
      return node.drain(DEFAULT_DRAIN_TIMEOUT_MS).then(() => closingGateway).then(closeMetrics);
    },
  };
}
