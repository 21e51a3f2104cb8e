export { main } from './run-node.js';
export { resolveConfig, type NodeConfig } from './config.js';
export { FLAGS, helpText, envName } from './flags.js';
export { loadHandler, splitHandlerSpec } from './handler-loader.js';
