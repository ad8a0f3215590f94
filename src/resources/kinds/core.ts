import { enumOf, float, floatDict, int, list, obj, polymorphic, str } from "../schema.js";
import { defineKind } from "../kind.js";
import { nameColumns, namespacedColumns, resourceSchema, timeColumns } from "./common.js";

const verbs = ["create", "list", "list_all", "get", "update", "delete"] as const;

const roleRule = () =>
  obj({
    api: str(),
    resources: list(str()),
    namespaces: list(str()),
    verbs: list(enumOf(verbs)),
  });

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
  columns: [...nameColumns, { header: "rules", value: (o) => o.rules.length }, ...timeColumns],
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
    ...nameColumns,
    { header: "users", value: (o) => o.users.join(", ") },
    { header: "roles", value: (o) => o.roles.join(", ") },
    ...timeColumns,
  ],
});

const metricSpec = () =>
  obj({
    allowed_values: list(int()),
    min: float(),
    max: float(),
    provider: obj({ name: str(), metric: str() }),
  });

const metricColumns = (namespaced: boolean) => [
  ...(namespaced ? namespacedColumns : nameColumns),
  { header: "provider", value: "spec.provider.name" },
  { header: "metric", value: "spec.provider.metric" },
  { header: "min", value: "spec.min" },
  { header: "max", value: "spec.max" },
  ...timeColumns,
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
  columns: metricColumns(false),
});

export const Metric = defineKind({
  ...GlobalMetric,
  kind: "Metric",
  plural: "metrics",
  namespaced: true,
  schema: resourceSchema("core", "Metric", { spec: metricSpec() }),
  columns: metricColumns(true),
});

const metricsProviderSpec = () =>
  polymorphic({
    prometheus: obj({ url: str() }),
    influx: obj({ url: str(), token: str(), org: str(), bucket: str() }),
    kafka: obj({ comparison_column: str(), value_column: str(), table: str(), url: str() }),
    static: obj({ metrics: floatDict() }),
  });

const providerColumns = (namespaced: boolean) => [
  ...(namespaced ? namespacedColumns : nameColumns),
  { header: "type", value: "spec.type" },
  {
    header: "url",
    value: (o: any) => (o.spec.type === "static" ? null : o.spec[o.spec.type]?.url),
  },
  ...timeColumns,
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
  columns: providerColumns(false),
});

export const MetricsProvider = defineKind({
  ...GlobalMetricsProvider,
  kind: "MetricsProvider",
  plural: "metricsproviders",
  namespaced: true,
  schema: resourceSchema("core", "MetricsProvider", { spec: metricsProviderSpec() }),
  noUpdateIsOk: false,
  columns: providerColumns(true),
});
