/** The metrics-provider layer the scheduler uses: sources per provider type, normalization, the cache. */
export {
  MetricError,
  MetricFailure,
  MetricsProviderError,
  redactUrl,
  type MetricFailureContext,
  type ReasonCode,
} from "./errors.js";
export {
  createMetricsSource,
  describeProvider,
  DEFAULT_QUERY_TIMEOUT_MS,
  type AnyMetricsProviderSpec,
  type InfluxProviderSpec,
  type KafkaProviderSpec,
  type MetricsProviderSpec,
  type MetricsSource,
  type MetricsSourceOptions,
  type PrometheusProviderSpec,
  type StaticProviderSpec,
} from "./provider.js";
export { normalize, type MetricBounds, type NormalizeContext } from "./normalize.js";
export {
  DEFAULT_ERROR_TTL_MS,
  DEFAULT_VALUE_TTL_MS,
  MetricsCache,
  type MetricsCacheOptions,
  type MetricsProviderResource,
} from "./cache.js";
