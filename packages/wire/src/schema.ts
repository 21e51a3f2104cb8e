import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Path of the wire schema, shipped at the top of the repository in `proto/`. */
export const PROTO_PATH = fileURLToPath(
  new URL('../../../proto/restpipe/v1/pipe.proto', import.meta.url),
);

/** Version carried in Hello/HelloAck; bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;

const root = protobuf.loadSync(PROTO_PATH);

/** The reflected `restpipe.v1.Frame` type; protobufjs generates its codec at load. */
export const FrameType = root.lookupType('restpipe.v1.Frame');
