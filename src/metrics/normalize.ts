/**
 * Scaling a raw provider value into [0, 1] with the bounds the operator declared on the (Global)Metric
 * (controllers.md §2.2), so metrics of different units can be weighted against each other.
 */
import { MetricError } from "./errors.js";

export interface MetricBounds {
  min: number;
  max: number;
  /** When non-empty, the only raw values accepted (e.g. a 0/1 flag or an enumerated tier). */
  allowed_values?: number[] | null;
  /** Present when a whole `Metric.spec` is passed; used only to name the metric in messages. */
  provider?: { name: string; metric: string };
}

/** Overrides what the messages call the metric and its provider (default: from `bounds.provider`). */
export interface NormalizeContext {
  metric?: string;
  provider?: string;
}

/**
 * `(raw − min) / (max − min)`. Rejects, as INVALID_METRIC, a raw value outside [min, max], one not among a
 * non-empty `allowed_values`, and a metric with `max == min`, where every value would divide by zero
 * (the reference implementation raised ZeroDivisionError there).
 */
export function normalize(raw: number, bounds: MetricBounds, context: NormalizeContext = {}): number {
  const metric = context.metric ?? bounds.provider?.metric ?? "(unnamed)";
  const provider =
    context.provider ?? (bounds.provider ? `provider '${bounds.provider.name}'` : "its provider");
  const failure = (detail: string) => new MetricError({ metric, provider }, detail);
  const { min, max } = bounds;
  if (!Number.isFinite(raw)) throw failure(`value ${raw} is not a finite number`);
  if (!Number.isFinite(min) || !Number.isFinite(max))
    throw failure(`the metric's bounds [${min}, ${max}] are not finite numbers`);
  if (raw < min || raw > max) throw failure(`value ${raw} is outside the metric's range [${min}, ${max}]`);
  const allowed = bounds.allowed_values ?? [];
  if (allowed.length > 0 && !allowed.includes(raw))
    throw failure(`value ${raw} is not one of the metric's allowed_values [${allowed.join(", ")}]`);
  if (max === min)
    throw failure(`the metric's range [${min}, ${max}] is empty (min == max), so no value can be scaled`);
  return (raw - min) / (max - min);
}
