/** A ring of entries as the metrics package keeps them (CallLog, ClosedLog): newest first, numbered. */
export interface LogView<T extends object = object> {
  readonly lastSeq: number;
  newest(limit: number): T[];
  since(seq: number, limit?: number): Array<T & { seq: number }>;
}

/** What the dashboard's routes read (SPEC §13): the node's call log, its closed connections, its rates. */
export interface WatchSource {
  readonly calls: LogView;
  readonly closed: LogView;
  /** The last 5 minutes, oldest first. */
  rates(): { bucketMs: number; points: object[] };
}

/** The node's own certificate, for the expiry warning. */
export interface OwnCertificate {
  notAfter: string;
}
