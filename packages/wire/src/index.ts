export * from './errors.js';
export * from './frames.js';
export { FrameDecoder } from './frame-decoder.js';
export { FrameWriter, SEPARATE_DATA_BYTES } from './frame-writer.js';
export { PROTO_PATH, PROTOCOL_VERSION } from './schema.js';
