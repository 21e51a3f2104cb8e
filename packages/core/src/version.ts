/** Sent in Hello/HelloAck, for logs on the far side. */
export const VERSION = '0.1.0';
export const SOFTWARE = `restpipe/${VERSION} node/${process.versions.node}`;
