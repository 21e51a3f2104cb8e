/** Which end of a pipe a node or connection is. */
export type Role = 'server' | 'client';
