/**
 * The resource types a simulated cluster serves: the built-in ones (names, kinds, verbs, short names and
 * storage version hashes copied from kube-apiserver 1.20.2's discovery documents) and those of the CRDs
 * created at run time. Discovery documents are built from this table.
 */
import type { Schema } from "./fields.js";

export type NameRule = "subdomain" | "dns1035" | "dns1123label" | "path";

export interface SubresourceInfo {
  name: string;
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
}

/** What a custom resource's CRD says about it. */
export interface CustomResourceInfo {
  crdName: string;
  /** Served versions, storage version first. */
  versions: string[];
  storageVersion: string;
  /** The structural schema of each version (pruning, validation, list types), when it has one. */
  schemas: Map<string, any>;
}

export interface ResourceType {
  group: string;
  /** The version objects are stored (and, for built-in types, served) in. */
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  storageVersionHash?: string;
  subresources: SubresourceInfo[];
  /** Writes of the main resource leave `status` alone (it changes through `/status`). */
  statusSubresource: boolean;
  /** metadata.generation is kept (and bumped when anything but metadata and status changes). */
  generation: boolean;
  /** PUT without metadata.resourceVersion is allowed (an unconditional update). */
  allowUnconditionalUpdate: boolean;
  /** What DELETE does to dependents when the request does not say. */
  defaultPropagation: "Background" | "Orphan";
  nameRule: NameRule;
  /** DELETE answers with the object rather than a Status. */
  deleteReturnsObject: boolean;
  custom?: CustomResourceInfo;
  /** `group/plural`: the store key of the type. */
  key: string;
  /** `group/Kind`. */
  gk: string;
  /** The list types of the schema (server-side apply and strategic merge patch). */
  schema?: Schema;
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS = ["get", "patch", "update"];

interface Builtin {
  gv: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  hash: string;
  shortNames?: string[];
  categories?: string[];
  verbs?: string[];
  status?: boolean;
  scale?: boolean;
  generation?: boolean;
  nameRule?: NameRule;
  extraSubresources?: SubresourceInfo[];
  deleteReturnsObject?: boolean;
  orphanByDefault?: boolean;
}

const NO_DELETECOLLECTION = ["create", "delete", "get", "list", "patch", "update", "watch"];

const BUILTINS: Builtin[] = [
  {
    gv: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    hash: "qFsyl6wFWjQ=",
    shortNames: ["cm"],
  },
  {
    gv: "v1",
    plural: "endpoints",
    kind: "Endpoints",
    namespaced: true,
    hash: "fWeeMqaN/OA=",
    shortNames: ["ep"],
  },
  { gv: "v1", plural: "events", kind: "Event", namespaced: true, hash: "r2yiGXH7wu8=", shortNames: ["ev"] },
  {
    gv: "v1",
    plural: "limitranges",
    kind: "LimitRange",
    namespaced: true,
    hash: "EBKMFVe6cwo=",
    shortNames: ["limits"],
  },
  {
    gv: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
    hash: "Q3oi5N2YM8M=",
    shortNames: ["ns"],
    verbs: NO_DELETECOLLECTION,
    status: true,
    nameRule: "dns1123label",
    deleteReturnsObject: true,
    extraSubresources: [{ name: "finalize", kind: "Namespace", verbs: ["update"] }],
  },
  {
    gv: "v1",
    plural: "nodes",
    kind: "Node",
    namespaced: false,
    hash: "XwShjMxG9Fs=",
    shortNames: ["no"],
    status: true,
    extraSubresources: [
      { name: "proxy", kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
    ],
  },
  {
    gv: "v1",
    plural: "persistentvolumeclaims",
    kind: "PersistentVolumeClaim",
    namespaced: true,
    hash: "QWTyNDq0dC4=",
    shortNames: ["pvc"],
    status: true,
  },
  {
    gv: "v1",
    plural: "persistentvolumes",
    kind: "PersistentVolume",
    namespaced: false,
    hash: "HN/zwEC+JgM=",
    shortNames: ["pv"],
    status: true,
  },
  {
    gv: "v1",
    plural: "pods",
    kind: "Pod",
    namespaced: true,
    hash: "xPOwRZ+Yhw8=",
    shortNames: ["po"],
    categories: ["all"],
    status: true,
    deleteReturnsObject: true,
    extraSubresources: [
      { name: "attach", kind: "PodAttachOptions", verbs: ["create", "get"] },
      { name: "binding", kind: "Binding", verbs: ["create"] },
      { name: "eviction", kind: "Eviction", verbs: ["create"], group: "policy", version: "v1beta1" },
      { name: "exec", kind: "PodExecOptions", verbs: ["create", "get"] },
      { name: "log", kind: "Pod", verbs: ["get"] },
      { name: "portforward", kind: "PodPortForwardOptions", verbs: ["create", "get"] },
      { name: "proxy", kind: "PodProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
    ],
  },
  { gv: "v1", plural: "podtemplates", kind: "PodTemplate", namespaced: true, hash: "LIXB2x4IFpk=" },
  {
    gv: "v1",
    plural: "replicationcontrollers",
    kind: "ReplicationController",
    namespaced: true,
    hash: "Jond2If31h0=",
    shortNames: ["rc"],
    categories: ["all"],
    status: true,
    scale: true,
    generation: true,
  },
  {
    gv: "v1",
    plural: "resourcequotas",
    kind: "ResourceQuota",
    namespaced: true,
    hash: "8uhSgffRX6w=",
    shortNames: ["quota"],
    status: true,
  },
  { gv: "v1", plural: "secrets", kind: "Secret", namespaced: true, hash: "S6u1pOWzb84=" },
  {
    gv: "v1",
    plural: "serviceaccounts",
    kind: "ServiceAccount",
    namespaced: true,
    hash: "pbx9ZvyFpBE=",
    shortNames: ["sa"],
    extraSubresources: [
      {
        name: "token",
        kind: "TokenRequest",
        verbs: ["create"],
        group: "authentication.k8s.io",
        version: "v1",
      },
    ],
  },
  {
    gv: "v1",
    plural: "services",
    kind: "Service",
    namespaced: true,
    hash: "0/CO1lhkEBI=",
    shortNames: ["svc"],
    categories: ["all"],
    verbs: NO_DELETECOLLECTION,
    status: true,
    nameRule: "dns1035",
    extraSubresources: [
      { name: "proxy", kind: "ServiceProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
    ],
  },
  {
    gv: "apps/v1",
    plural: "controllerrevisions",
    kind: "ControllerRevision",
    namespaced: true,
    hash: "85nkx63pcBU=",
  },
  {
    gv: "apps/v1",
    plural: "daemonsets",
    kind: "DaemonSet",
    namespaced: true,
    hash: "dd7pWHUlMKQ=",
    shortNames: ["ds"],
    categories: ["all"],
    status: true,
    generation: true,
  },
  {
    gv: "apps/v1",
    plural: "deployments",
    kind: "Deployment",
    namespaced: true,
    hash: "8aSe+NMegvE=",
    shortNames: ["deploy"],
    categories: ["all"],
    status: true,
    scale: true,
    generation: true,
  },
  {
    gv: "apps/v1",
    plural: "replicasets",
    kind: "ReplicaSet",
    namespaced: true,
    hash: "P1RzHs8/mWQ=",
    shortNames: ["rs"],
    categories: ["all"],
    status: true,
    scale: true,
    generation: true,
  },
  {
    gv: "apps/v1",
    plural: "statefulsets",
    kind: "StatefulSet",
    namespaced: true,
    hash: "H+vl74LkKdo=",
    shortNames: ["sts"],
    categories: ["all"],
    status: true,
    scale: true,
    generation: true,
  },
  {
    gv: "autoscaling/v1",
    plural: "horizontalpodautoscalers",
    kind: "HorizontalPodAutoscaler",
    namespaced: true,
    hash: "oQlkt7f5j/A=",
    shortNames: ["hpa"],
    categories: ["all"],
    status: true,
  },
  {
    gv: "batch/v1",
    plural: "jobs",
    kind: "Job",
    namespaced: true,
    hash: "mudhfqk/qZY=",
    categories: ["all"],
    status: true,
    generation: true,
    orphanByDefault: true,
  },
  {
    gv: "batch/v1beta1",
    plural: "cronjobs",
    kind: "CronJob",
    namespaced: true,
    hash: "h/JlFAZkyyY=",
    shortNames: ["cj"],
    categories: ["all"],
    status: true,
    orphanByDefault: true,
  },
  {
    gv: "networking.k8s.io/v1",
    plural: "ingressclasses",
    kind: "IngressClass",
    namespaced: false,
    hash: "6upRfBq0FOI=",
    generation: true,
  },
  {
    gv: "networking.k8s.io/v1",
    plural: "ingresses",
    kind: "Ingress",
    namespaced: true,
    hash: "ZOAfGflaKd0=",
    shortNames: ["ing"],
    status: true,
    generation: true,
  },
  {
    gv: "networking.k8s.io/v1",
    plural: "networkpolicies",
    kind: "NetworkPolicy",
    namespaced: true,
    hash: "YpfwF18m1G8=",
    shortNames: ["netpol"],
    generation: true,
  },
  {
    gv: "policy/v1beta1",
    plural: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
    hash: "6BGBu0kpHtk=",
    shortNames: ["pdb"],
    status: true,
    generation: true,
  },
  {
    gv: "rbac.authorization.k8s.io/v1",
    plural: "clusterrolebindings",
    kind: "ClusterRoleBinding",
    namespaced: false,
    hash: "48tpQ8gZHFc=",
    nameRule: "path",
  },
  {
    gv: "rbac.authorization.k8s.io/v1",
    plural: "clusterroles",
    kind: "ClusterRole",
    namespaced: false,
    hash: "bYE5ZWDrJ44=",
    nameRule: "path",
  },
  {
    gv: "rbac.authorization.k8s.io/v1",
    plural: "rolebindings",
    kind: "RoleBinding",
    namespaced: true,
    hash: "eGsCzGH6b1g=",
    nameRule: "path",
  },
  {
    gv: "rbac.authorization.k8s.io/v1",
    plural: "roles",
    kind: "Role",
    namespaced: true,
    hash: "7FuwZcIIItM=",
    nameRule: "path",
  },
  {
    gv: "storage.k8s.io/v1",
    plural: "storageclasses",
    kind: "StorageClass",
    namespaced: false,
    hash: "K+m6uJwbjGY=",
    shortNames: ["sc"],
  },
  { gv: "coordination.k8s.io/v1", plural: "leases", kind: "Lease", namespaced: true, hash: "/sY7hl8ol1U=" },
  {
    gv: "apiextensions.k8s.io/v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
    hash: "jfWCUB31mvA=",
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    status: true,
    generation: true,
    deleteReturnsObject: true,
  },
];

/** The order kube-apiserver lists its groups in (`/apis`); CRD groups follow, alphabetically. */
export const BUILTIN_GROUPS: { name: string; versions: string[] }[] = [
  { name: "apps", versions: ["v1"] },
  { name: "autoscaling", versions: ["v1"] },
  { name: "batch", versions: ["v1", "v1beta1"] },
  { name: "networking.k8s.io", versions: ["v1"] },
  { name: "policy", versions: ["v1beta1"] },
  { name: "rbac.authorization.k8s.io", versions: ["v1"] },
  { name: "storage.k8s.io", versions: ["v1"] },
  { name: "apiextensions.k8s.io", versions: ["v1"] },
  { name: "coordination.k8s.io", versions: ["v1"] },
];

function splitGv(gv: string): [string, string] {
  const i = gv.indexOf("/");
  return i < 0 ? ["", gv] : [gv.slice(0, i), gv.slice(i + 1)];
}

export function builtinTypes(schemaOf: (gk: string) => Schema | undefined): ResourceType[] {
  return BUILTINS.map((b) => {
    const [group, version] = splitGv(b.gv);
    const subresources: SubresourceInfo[] = [...(b.extraSubresources ?? [])];
    if (b.scale)
      subresources.push({
        name: "scale",
        kind: "Scale",
        verbs: STATUS_VERBS,
        group: "autoscaling",
        version: "v1",
      });
    if (b.status) subresources.push({ name: "status", kind: b.kind, verbs: STATUS_VERBS });
    subresources.sort((x, y) => x.name.localeCompare(y.name));
    const gk = `${group}/${b.kind}`;
    return {
      group,
      version,
      plural: b.plural,
      singular: "",
      kind: b.kind,
      listKind: `${b.kind}List`,
      namespaced: b.namespaced,
      verbs: b.verbs ?? ALL_VERBS,
      shortNames: b.shortNames,
      categories: b.categories,
      storageVersionHash: b.hash,
      subresources,
      statusSubresource: b.status ?? false,
      generation: b.generation ?? false,
      allowUnconditionalUpdate: true,
      defaultPropagation: b.orphanByDefault ? "Orphan" : "Background",
      nameRule: b.nameRule ?? "subdomain",
      deleteReturnsObject: b.deleteReturnsObject ?? false,
      key: `${group}/${b.plural}`,
      gk,
      schema: schemaOf(gk),
    };
  });
}

/** The resource type of a CRD's custom objects (the CRD already defaulted and validated). */
export function customType(crd: any, schemaOf: (openAPIV3Schema: any) => Schema): ResourceType {
  const spec = crd.spec;
  const served = (spec.versions as any[]).filter((v) => v.served);
  const storage = (spec.versions as any[]).find((v) => v.storage) ?? served[0];
  const schemas = new Map<string, any>();
  for (const v of spec.versions as any[])
    if (v.schema?.openAPIV3Schema) schemas.set(v.name, v.schema.openAPIV3Schema);
  const hasStatus = Boolean(storage?.subresources?.status);
  const subresources: SubresourceInfo[] = [];
  if (storage?.subresources?.scale)
    subresources.push({
      name: "scale",
      kind: "Scale",
      verbs: STATUS_VERBS,
      group: "autoscaling",
      version: "v1",
    });
  if (hasStatus) subresources.push({ name: "status", kind: spec.names.kind, verbs: STATUS_VERBS });
  return {
    group: spec.group,
    version: storage.name,
    plural: spec.names.plural,
    singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    kind: spec.names.kind,
    listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    namespaced: spec.scope === "Namespaced",
    verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
    shortNames: spec.names.shortNames,
    categories: spec.names.categories,
    subresources,
    statusSubresource: hasStatus,
    generation: true,
    allowUnconditionalUpdate: false,
    defaultPropagation: "Background",
    nameRule: "subdomain",
    deleteReturnsObject: false,
    custom: {
      crdName: crd.metadata.name,
      versions: [storage.name, ...served.map((v) => v.name).filter((n) => n !== storage.name)],
      storageVersion: storage.name,
      schemas,
    },
    key: `${spec.group}/${spec.names.plural}`,
    gk: `${spec.group}/${spec.names.kind}`,
    schema: storage?.schema?.openAPIV3Schema ? schemaOf(storage.schema.openAPIV3Schema) : undefined,
  };
}

/** `APIResourceList` of one group version. */
export function resourceList(groupVersion: string, types: ResourceType[]): Record<string, unknown> {
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    const r: Record<string, unknown> = {
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
    };
    if (t.shortNames?.length) r.shortNames = t.shortNames;
    if (t.categories?.length) r.categories = t.categories;
    if (t.storageVersionHash) r.storageVersionHash = t.storageVersionHash;
    resources.push(r);
    for (const s of t.subresources) {
      const sr: Record<string, unknown> = {
        name: `${t.plural}/${s.name}`,
        singularName: "",
        namespaced: t.namespaced,
      };
      if (s.group) sr.group = s.group;
      if (s.version) sr.version = s.version;
      sr.kind = s.kind;
      sr.verbs = s.verbs;
      resources.push(sr);
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
}
