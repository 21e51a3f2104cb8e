export * from '@restpipe/errors';
export * from './frame-types.js';
export { encodeFrameBytes, decodeFrame } from './frames.js';
export { FrameDecoder } from './frame-decoder.js';
export { FrameWriter, SEPARATE_DATA_BYTES } from './frame-writer.js';
export { PROTOCOL_VERSION } from './schema.js';
