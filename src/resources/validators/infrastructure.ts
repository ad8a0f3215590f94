/** Cross-field rules of infrastructure providers and global clouds (Krake's `_schema` errors). */
import type { Issue } from "../schema.js";
import { isPlainObject } from "./util.js";

const isSet = (v: unknown) => v !== null && v !== undefined;

/**
 * The `im` object of an (Global)InfrastructureProvider spec. Krake tests for `None`, so an empty string
 * counts as given; we keep that, or providers stored by Krake would stop validating.
 */
export function checkImProviderSpec(im: Record<string, unknown>): Issue[] {
  if (!isPlainObject(im)) return [];
  if (isSet(im.token) || (isSet(im.username) && isSet(im.password))) return [];
  return [
    {
      path: [],
      message: "At least one authentication should be defined in the IM infrastructure provider spec.",
    },
  ];
}

const PROVIDER_MESSAGE =
  "A non-namespaced global cloud resource cannot reference the namespaced infrastructure provider resource.";
const METRIC_MESSAGE =
  "A non-namespaced global cloud resource cannot reference the namespaced metric resource.";

/**
 * GlobalCloud `spec` (polymorphic, `{type, <type>: {...}}`): a global object may only reference global
 * providers and metrics. Paths point at the offending `namespaced` flag, relative to the spec.
 */
export function checkGlobalCloudSpec(spec: Record<string, unknown>): Issue[] {
  if (!isPlainObject(spec) || typeof spec.type !== "string" || !Object.hasOwn(spec, spec.type)) return [];
  const type = spec.type;
  const body = spec[type];
  if (!isPlainObject(body)) return [];
  const issues: Issue[] = [];
  const provider = body.infrastructure_provider;
  if (isPlainObject(provider) && provider.namespaced === true) {
    issues.push({ path: [type, "infrastructure_provider", "namespaced"], message: PROVIDER_MESSAGE });
  }
  if (Array.isArray(body.metrics)) {
    body.metrics.forEach((metric, i) => {
      if (isPlainObject(metric) && metric.namespaced === true) {
        issues.push({ path: [type, "metrics", i, "namespaced"], message: METRIC_MESSAGE });
      }
    });
  }
  return issues;
}

/** The same rule on a whole GlobalCloud object, where Krake reports it. */
export function checkGlobalCloud(cloud: Record<string, unknown>): Issue[] {
  if (!isPlainObject(cloud) || !isPlainObject(cloud.spec)) return [];
  return checkGlobalCloudSpec(cloud.spec).map((i) => ({ path: ["spec", ...i.path], message: i.message }));
}
