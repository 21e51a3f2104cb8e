/**
 * @restpipe/errors: every error class restpipe raises, their stable codes, and the
 * reply statuses a handler may choose. A leaf: it imports nothing, so a package that
 * only needs an error (certs) does not load the codec and protobufjs to get it.
 * `@restpipe/wire`, `@restpipe/core` and `restpipe` re-export all of it.
 */
export * from './errors.js';
export { isExceptionStatus, isHandlerStatus, VALUE_STATUS } from './reply-status.js';
