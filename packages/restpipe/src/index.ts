/**
 * restpipe: what users import.
 *
 *     import { EventHandler, reply, PipeClient, raiseForException } from 'restpipe';
 */
export * from '@restpipe/core';
