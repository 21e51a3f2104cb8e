export { Observer, metricSafe, type ObserverOptions } from './observer.js';
export { PrometheusMetrics } from './prometheus.js';
export { createStatsdSink, STATSD_ERROR_LOG_INTERVAL_MS, type StatsdSink, type StatsdTarget } from './statsd-sink.js';
