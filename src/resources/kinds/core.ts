import { datetime, enumOf, float, floatDict, int, list, nullable, obj, polymorphic, str } from "../schema.js";
import { defineKind } from "../kind.js";
import { baseColumns, resourceSchema } from "./common.js";

const verbs = ["create", "list", "list_all", "get", "update", "delete"] as const;

const roleRule = () =>
  obj({
    api: str(),
    resources: list(str()),
    namespaces: list(str()),
    verbs: list(enumOf(verbs)),
  });

/** A rule's list as an operator reads it: `""` (every API, resource or namespace) shown as `*`. */
const star = (items: string[]) => items.map((item) => item || "*").join(",");

export const Role = defineKind({
  group: "core",
  kind: "Role",
  plural: "roles",
  namespaced: false,
  schema: resourceSchema("core", "Role", { rules: list(roleRule()) }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "atomic",
  columns: [
    ...baseColumns,
    { header: "rules", value: (o) => o.rules.length },
    {
      header: "rule",
      // One line per rule: `verbs on api/resources in namespaces`, the way an operator reads a grant.
      value: (o) =>
        o.rules
          .map(
            (r: { api: string; resources: string[]; namespaces: string[]; verbs: string[] }) =>
              `${r.verbs.join(",")} on ${star([r.api])}/${star(r.resources)} in ${star(r.namespaces)}`,
          )
          .join("\n"),
      detail: true,
    },
  ],
});

export const RoleBinding = defineKind({
  group: "core",
  kind: "RoleBinding",
  plural: "rolebindings",
  namespaced: false,
  schema: resourceSchema("core", "RoleBinding", { users: list(str()), roles: list(str()) }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "atomic",
  columns: [
    ...baseColumns,
    { header: "users", value: (o) => o.users.join(", ") },
    { header: "roles", value: (o) => o.roles.join(", ") },
  ],
});

const metricSpec = () =>
  obj({
    allowed_values: list(int()),
    min: float(),
    max: float(),
    provider: obj({ name: str(), metric: str() }),
  });

const metricColumns = () => [
  ...baseColumns,
  { header: "provider", value: "spec.provider.name" },
  { header: "min", value: "spec.min" },
  { header: "max", value: "spec.max" },
  { header: "allowed_values", value: "spec.allowed_values" },
  { header: "metric", value: "spec.provider.metric", wide: true },
];

export const GlobalMetric = defineKind({
  group: "core",
  kind: "GlobalMetric",
  plural: "globalmetrics",
  namespaced: false,
  schema: resourceSchema("core", "GlobalMetric", { spec: metricSpec() }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "atomic",
  columns: metricColumns(),
});

export const Metric = defineKind({
  ...GlobalMetric,
  kind: "Metric",
  plural: "metrics",
  namespaced: true,
  schema: resourceSchema("core", "Metric", { spec: metricSpec() }),
  columns: metricColumns(),
});

const metricsProviderSpec = () =>
  polymorphic({
    prometheus: obj({ url: str() }),
    influx: obj({ url: str(), token: str(), org: str(), bucket: str() }),
    kafka: obj({ comparison_column: str(), value_column: str(), table: str(), url: str() }),
    static: obj({ metrics: floatDict() }),
  });

const providerColumns = () => [
  ...baseColumns,
  { header: "mp_type", value: "spec.type" },
  {
    header: "url",
    value: (o: any) => (o.spec.type === "static" ? null : o.spec[o.spec.type]?.url),
  },
];

export const GlobalMetricsProvider = defineKind({
  group: "core",
  kind: "GlobalMetricsProvider",
  plural: "globalmetricsproviders",
  namespaced: false,
  schema: resourceSchema("core", "GlobalMetricsProvider", { spec: metricsProviderSpec() }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: true,
  createCheck: "atomic",
  columns: providerColumns(),
  secrets: ["spec.influx.token"],
});

export const MetricsProvider = defineKind({
  ...GlobalMetricsProvider,
  kind: "MetricsProvider",
  plural: "metricsproviders",
  namespaced: true,
  schema: resourceSchema("core", "MetricsProvider", { spec: metricsProviderSpec() }),
  noUpdateIsOk: false,
  columns: providerColumns(),
});

/**
 * Ours (Krake has none, defect X1): the lease through which copies of one controller elect a leader. The
 * holder renews it; another copy takes over only after it went unrenewed for `duration_seconds`, measured
 * on its own clock, and the PUT carries the resource_version it read (D4), so two can never both win.
 */
export const Lease = defineKind({
  group: "core",
  kind: "Lease",
  plural: "leases",
  namespaced: false,
  schema: resourceSchema("core", "Lease", {
    spec: obj({
      holder: nullable(str(), { default: null }),
      duration_seconds: int({ default: 15 }),
      acquired: nullable(datetime(), { default: null }),
      renewed: nullable(datetime(), { default: null }),
      transitions: int({ default: 0 }),
    }),
  }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "atomic",
  columns: [
    ...baseColumns,
    { header: "holder", value: "spec.holder" },
    { header: "renewed", value: "spec.renewed" },
    { header: "duration", value: "spec.duration_seconds", wide: true },
    { header: "transitions", value: "spec.transitions", wide: true },
  ],
});
