export { Observer, metricSafe, type ObserverOptions } from './observer.js';
export { PrometheusMetrics } from './prometheus.js';
export { createStatsdSink, STATSD_ERROR_LOG_INTERVAL_MS, type StatsdSink, type StatsdTarget } from './statsd-sink.js';
export { CallLog, CALL_LOG_SIZE, type CallEntry, type CallFacts } from './watch/call-log.js';
export { ClosedLog, CLOSED_LOG_SIZE, type ClosedEntry } from './watch/closed-log.js';
export { Rates, RATE_BUCKET_MS, RATE_BUCKETS, type RatePoint } from './watch/rates.js';
export { Ring } from './watch/ring.js';
