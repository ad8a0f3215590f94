import { bool, enumOf, list, metricRef, nullable, obj, polymorphic, str, withCheck } from "../schema.js";
import { checkGlobalCloudSpec, checkImProviderSpec } from "../validators/index.js";
import { defineKind } from "../kind.js";
import { baseColumns, metricRefsCell, reasonSchema, resourceSchema, statusField } from "./common.js";
import { Type } from "@sinclair/typebox";

const imSpec = () =>
  withCheck(
    obj({
      url: str(),
      username: nullable(str(), { default: null }),
      password: nullable(str(), { default: null }),
      token: nullable(str(), { default: null }),
    }),
    checkImProviderSpec,
  );

const providerSpec = () => polymorphic({ im: imSpec() });

const providerColumns = () => [
  ...baseColumns,
  { header: "type", value: "spec.type" },
  { header: "url", value: (o: any) => o.spec[o.spec.type]?.url },
];

export const GlobalInfrastructureProvider = defineKind({
  group: "infrastructure",
  kind: "GlobalInfrastructureProvider",
  plural: "globalinfrastructureproviders",
  namespaced: false,
  schema: resourceSchema("infrastructure", "GlobalInfrastructureProvider", { spec: providerSpec() }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "read-then-put",
  columns: providerColumns(),
  secrets: ["spec.im.password", "spec.im.token"],
});

export const InfrastructureProvider = defineKind({
  ...GlobalInfrastructureProvider,
  kind: "InfrastructureProvider",
  plural: "infrastructureproviders",
  namespaced: true,
  schema: resourceSchema("infrastructure", "InfrastructureProvider", { spec: providerSpec() }),
  columns: providerColumns(),
});

const openstackSpec = () =>
  obj({
    url: str(),
    auth: polymorphic({
      password: obj({
        version: str({ default: "3" }),
        user: obj({
          username: str(),
          password: str(),
          domain_name: str({ default: "Default" }),
          comment: nullable(str(), { default: null }),
        }),
        project: obj({
          name: str(),
          domain_id: str({ default: "default" }),
          comment: nullable(str(), { default: null }),
        }),
      }),
    }),
    metrics: list(metricRef(), { default: [] }),
    infrastructure_provider: obj({ name: str(), namespaced: bool({ default: false }) }),
  });

const cloudStatus = () =>
  statusField(
    obj({
      state: enumOf(["ONLINE", "FAILING_METRICS"] as const, { default: "ONLINE" }),
      metrics_reasons: Type.Record(Type.String(), reasonSchema(), { default: {} }),
    }),
  );

const cloudColumns = () => [
  ...baseColumns,
  { header: "type", value: "spec.type" },
  {
    header: "metrics",
    value: (o: any) => metricRefsCell(o.spec[o.spec.type]?.metrics ?? []),
  },
  { header: "infra_provider", value: (o: any) => o.spec[o.spec.type]?.infrastructure_provider?.name },
  { header: "state", value: "status.state" },
  { header: "url", value: (o: any) => o.spec[o.spec.type]?.url, wide: true },
];

export const GlobalCloud = defineKind({
  group: "infrastructure",
  kind: "GlobalCloud",
  plural: "globalclouds",
  namespaced: false,
  schema: resourceSchema("infrastructure", "GlobalCloud", {
    spec: withCheck(polymorphic({ openstack: openstackSpec() }), checkGlobalCloudSpec),
    status: cloudStatus(),
  }),
  hasStatus: true,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "read-then-put",
  columns: cloudColumns(),
  secrets: ["spec.openstack.auth.password.user.password"],
});

export const Cloud = defineKind({
  ...GlobalCloud,
  kind: "Cloud",
  plural: "clouds",
  namespaced: true,
  schema: resourceSchema("infrastructure", "Cloud", {
    spec: polymorphic({ openstack: openstackSpec() }),
    status: cloudStatus(),
  }),
  columns: cloudColumns(),
});
