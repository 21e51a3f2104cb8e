import protobuf from 'protobufjs';
import { SCHEMA_JSON } from './schema-json.js';

/** Version carried in Hello/HelloAck; bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;

/**
 * The reflected `restpipe.v1.Frame` type, built from the schema embedded in
 * schema-json.ts (generated from proto/restpipe/v1/pipe.proto by
 * scripts/embed-schema.mjs), so that wire reads no file; protobufjs generates
 * its codec on first use.
 */
export const FrameType = protobuf.Root.fromJSON(SCHEMA_JSON).lookupType('restpipe.v1.Frame');
