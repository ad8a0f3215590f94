/**
 * Server defaulting and validation of the simulated kinds, a subset of kube-apiserver 1.20's: the defaults
 * controllers observe (pod spec fields, Deployment replicas and strategy, Service type/protocol/targetPort,
 * Job parallelism/completions/selector…) and the validation errors a manifest most often trips over, with the
 * real field paths and messages. Custom objects are pruned, defaulted and validated against their CRD's
 * structural schema (type, required, enum, minimum/maximum, lengths, patterns, item counts).
 */
import { deepEqual, isObject } from "./fields.js";
import type { ResourceType } from "./resources.js";
import { labelSelectorMatcher } from "./selectors.js";
import { GoValue, type FieldError } from "./status.js";

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1123_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

export function validateName(
  rule: ResourceType["nameRule"],
  name: string,
  field = "metadata.name",
): FieldError[] {
  if (!name) return [{ type: "FieldValueRequired", field, detail: "name or generateName is required" }];
  switch (rule) {
    case "subdomain":
      if (name.length > 253)
        return [
          { type: "FieldValueInvalid", field, value: name, detail: "must be no more than 253 characters" },
        ];
      return SUBDOMAIN.test(name)
        ? []
        : [{ type: "FieldValueInvalid", field, value: name, detail: SUBDOMAIN_MSG }];
    case "dns1123label":
      if (name.length > 63)
        return [
          { type: "FieldValueInvalid", field, value: name, detail: "must be no more than 63 characters" },
        ];
      return LABEL_1123.test(name)
        ? []
        : [{ type: "FieldValueInvalid", field, value: name, detail: LABEL_1123_MSG }];
    case "dns1035":
      if (name.length > 63)
        return [
          { type: "FieldValueInvalid", field, value: name, detail: "must be no more than 63 characters" },
        ];
      return LABEL_1035.test(name)
        ? []
        : [{ type: "FieldValueInvalid", field, value: name, detail: LABEL_1035_MSG }];
    case "path":
      if (name === "." || name === ".." || /[/%]/.test(name))
        return [{ type: "FieldValueInvalid", field, value: name, detail: "may not contain '/' or '%'" }];
      return [];
  }
}

// --- defaulting ---------------------------------------------------------------------------------------------

function imagePullPolicy(image: unknown): string {
  if (typeof image !== "string") return "IfNotPresent";
  const name = image.split("@")[0];
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  const tag = colon > slash ? name.slice(colon + 1) : "";
  return image.includes("@") ? "IfNotPresent" : !tag || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultContainer(c: any, isPod: boolean): void {
  if (!isObject(c)) return;
  for (const p of Array.isArray(c.ports) ? c.ports : []) if (isObject(p)) p.protocol ??= "TCP";
  for (const e of Array.isArray(c.env) ? c.env : [])
    if (isObject(e?.valueFrom?.fieldRef)) e.valueFrom.fieldRef.apiVersion ??= "v1";
  c.resources ??= {};
  if (isPod && isObject(c.resources.limits)) {
    // A pod's requests default to its limits.
    c.resources.requests = { ...c.resources.limits, ...(c.resources.requests ?? {}) };
  }
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.imagePullPolicy ??= imagePullPolicy(c.image);
}

function defaultPodSpec(spec: any, isPod: boolean, restartPolicy = true): void {
  if (!isObject(spec)) return;
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) defaultContainer(c, isPod);
  for (const c of Array.isArray(spec.initContainers) ? spec.initContainers : []) defaultContainer(c, isPod);
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (isObject(v?.secret)) v.secret.defaultMode ??= 420;
    if (isObject(v?.configMap)) v.configMap.defaultMode ??= 420;
  }
  if (restartPolicy) spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.securityContext ??= {};
  spec.schedulerName ??= "default-scheduler";
  if (isPod) spec.enableServiceLinks ??= true;
}

function defaultTemplate(template: any, restartPolicy = true): void {
  if (!isObject(template)) return;
  template.metadata = { creationTimestamp: null, ...(template.metadata ?? {}) };
  defaultPodSpec(template.spec, false, restartPolicy);
}

function qosClass(spec: any): string {
  const containers: any[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ["cpu", "memory"])
      if (lim[r] === undefined || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

/** Fills in what the real server defaults. `obj` is a fresh object the caller owns. */
export function applyDefaults(rt: ResourceType, obj: any, creating: boolean): void {
  const spec = obj.spec;
  switch (rt.gk) {
    case "/Pod":
      defaultPodSpec(spec, true);
      if (creating) obj.status = { phase: "Pending", qosClass: qosClass(spec) };
      break;
    case "/PodTemplate":
      defaultTemplate(obj.template);
      break;
    case "/ReplicationController":
      if (isObject(spec)) spec.replicas ??= 1;
      defaultTemplate(spec?.template);
      break;
    case "apps/Deployment":
      if (!isObject(spec)) break;
      spec.replicas ??= 1;
      spec.strategy ??= { type: "RollingUpdate" };
      if ((spec.strategy.type ?? "RollingUpdate") === "RollingUpdate") {
        spec.strategy.type = "RollingUpdate";
        spec.strategy.rollingUpdate = {
          maxUnavailable: "25%",
          maxSurge: "25%",
          ...(spec.strategy.rollingUpdate ?? {}),
        };
      }
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      defaultTemplate(spec.template);
      break;
    case "apps/ReplicaSet":
      if (!isObject(spec)) break;
      spec.replicas ??= 1;
      defaultTemplate(spec.template);
      break;
    case "apps/StatefulSet":
      if (!isObject(spec)) break;
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= "OrderedReady";
      spec.updateStrategy ??= { type: "RollingUpdate" };
      if (spec.updateStrategy.type === "RollingUpdate")
        spec.updateStrategy.rollingUpdate ??= { partition: 0 };
      spec.revisionHistoryLimit ??= 10;
      defaultTemplate(spec.template);
      break;
    case "apps/DaemonSet":
      if (!isObject(spec)) break;
      spec.updateStrategy ??= { type: "RollingUpdate" };
      if (spec.updateStrategy.type === "RollingUpdate")
        spec.updateStrategy.rollingUpdate ??= { maxUnavailable: 1 };
      spec.revisionHistoryLimit ??= 10;
      defaultTemplate(spec.template);
      break;
    case "batch/Job":
      if (!isObject(spec)) break;
      if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
      spec.parallelism ??= 1;
      spec.backoffLimit ??= 6;
      if (creating && !spec.manualSelector && obj.metadata?.uid) {
        const uid = obj.metadata.uid;
        spec.selector ??= { matchLabels: { "controller-uid": uid } };
        if (isObject(spec.template)) {
          spec.template.metadata = {
            ...(spec.template.metadata ?? {}),
            labels: {
              ...(spec.template.metadata?.labels ?? {}),
              "controller-uid": uid,
              "job-name": obj.metadata.name,
            },
          };
        }
      }
      defaultTemplate(spec.template, false);
      break;
    case "batch/CronJob":
      if (!isObject(spec)) break;
      spec.concurrencyPolicy ??= "Allow";
      spec.suspend ??= false;
      spec.successfulJobsHistoryLimit ??= 3;
      spec.failedJobsHistoryLimit ??= 1;
      defaultTemplate(spec.jobTemplate?.spec?.template, false);
      break;
    case "/Service":
      if (!isObject(spec)) break;
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
        if (!isObject(p)) continue;
        p.protocol ??= "TCP";
        p.targetPort ??= p.port;
      }
      if (spec.type === "NodePort" || spec.type === "LoadBalancer") spec.externalTrafficPolicy ??= "Cluster";
      obj.status ??= { loadBalancer: {} };
      break;
    case "/Namespace":
      obj.spec = { finalizers: ["kubernetes"], ...(spec ?? {}) };
      if (creating) obj.status = { phase: "Active" };
      break;
    case "/Secret":
      obj.type ??= "Opaque";
      if (isObject(obj.stringData)) {
        obj.data = { ...(obj.data ?? {}) };
        for (const [k, v] of Object.entries(obj.stringData))
          obj.data[k] = Buffer.from(String(v)).toString("base64");
        delete obj.stringData;
      }
      break;
    case "apiextensions.k8s.io/CustomResourceDefinition":
      if (!isObject(spec)) break;
      spec.conversion ??= { strategy: "None" };
      break;
  }
}

// --- validation ---------------------------------------------------------------------------------------------

function goMap(v: unknown): string {
  if (!isObject(v)) return "map[string]string(nil)";
  const parts = Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(v[k])}`);
  return `map[string]string{${parts.join(", ")}}`;
}

/** A port number; `required`: a missing one is "Required" (container ports), else it reads as 0 (Go's zero). */
function validatePort(v: unknown, field: string, errors: FieldError[], required = true): void {
  if (required && (v === undefined || v === 0)) {
    errors.push({ type: "FieldValueRequired", field });
    return;
  }
  if (v === undefined) v = 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535)
    errors.push({
      type: "FieldValueInvalid",
      field,
      value: v,
      detail: "must be between 1 and 65535, inclusive",
    });
}

function validatePodSpec(spec: any, path: string, errors: FieldError[], restartPolicies?: string[]): void {
  const containers = spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    errors.push({ type: "FieldValueRequired", field: `${path}.containers` });
  } else {
    const names = new Set<string>();
    containers.forEach((c: any, i: number) => {
      const f = `${path}.containers[${i}]`;
      if (!c?.name) errors.push({ type: "FieldValueRequired", field: `${f}.name` });
      else if (!LABEL_1123.test(c.name))
        errors.push({ type: "FieldValueInvalid", field: `${f}.name`, value: c.name, detail: LABEL_1123_MSG });
      else if (names.has(c.name))
        errors.push({ type: "FieldValueDuplicate", field: `${f}.name`, value: c.name });
      if (c?.name) names.add(c.name);
      if (!c?.image) errors.push({ type: "FieldValueRequired", field: `${f}.image` });
      (Array.isArray(c?.ports) ? c.ports : []).forEach((p: any, j: number) =>
        validatePort(p?.containerPort, `${f}.ports[${j}].containerPort`, errors),
      );
    });
  }
  if (restartPolicies) {
    const rp = spec?.restartPolicy;
    if (rp === undefined || rp === "")
      errors.push({
        type: "FieldValueRequired",
        field: `${path}.restartPolicy`,
        detail: `valid values: ${restartPolicies.map((p) => JSON.stringify(p)).join(", ")}`,
      });
    else if (!restartPolicies.includes(rp))
      errors.push({
        type: "FieldValueNotSupported",
        field: `${path}.restartPolicy`,
        value: rp,
        supported: restartPolicies,
      });
  } else if (
    spec?.restartPolicy !== undefined &&
    !["Always", "OnFailure", "Never"].includes(spec.restartPolicy)
  ) {
    errors.push({
      type: "FieldValueNotSupported",
      field: `${path}.restartPolicy`,
      value: spec.restartPolicy,
      supported: ["Always", "OnFailure", "Never"],
    });
  }
}

function validateWorkload(
  obj: any,
  old: any | undefined,
  errors: FieldError[],
  opts: { replicas?: boolean; restartPolicies?: string[] } = {},
): void {
  const spec = obj.spec ?? {};
  if (opts.replicas !== false && typeof spec.replicas === "number" && spec.replicas < 0)
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.replicas",
      value: spec.replicas,
      detail: "must be greater than or equal to 0",
    });
  const selector = spec.selector;
  const labels = spec.template?.metadata?.labels;
  if (!isObject(selector)) errors.push({ type: "FieldValueRequired", field: "spec.selector" });
  else if (!selector.matchLabels && !selector.matchExpressions)
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.selector",
      value: selector,
      detail: "empty selector is invalid for deployment",
    });
  if (!isObject(selector) || !labelSelectorMatcher(selector)(labels))
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.template.metadata.labels",
      value: new GoValue(goMap(labels)),
      detail: "`selector` does not match template `labels`",
    });
  validatePodSpec(spec.template?.spec, "spec.template.spec", errors, opts.restartPolicies);
  if (
    old &&
    isObject(old.spec?.selector) &&
    isObject(selector) &&
    JSON.stringify(old.spec.selector) !== JSON.stringify(selector)
  )
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.selector",
      value: new GoValue(goSelector(selector)),
      detail: "field is immutable",
    });
}

function goSelector(sel: any): string {
  return `v1.LabelSelector{MatchLabels:${goMap(sel?.matchLabels)}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`;
}

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS = ["SCTP", "TCP", "UDP"];

function validateService(obj: any, old: any | undefined, errors: FieldError[]): void {
  const spec = obj.spec ?? {};
  const ports: any[] = Array.isArray(spec.ports) ? spec.ports : [];
  if (spec.type !== "ExternalName" && spec.clusterIP !== "None" && ports.length === 0)
    errors.push({ type: "FieldValueRequired", field: "spec.ports" });
  ports.forEach((p, i) => {
    const f = `spec.ports[${i}]`;
    if (ports.length > 1 && !p?.name) errors.push({ type: "FieldValueRequired", field: `${f}.name` });
    validatePort(p?.port, `${f}.port`, errors, false);
    if (!PROTOCOLS.includes(p?.protocol))
      errors.push({
        type: "FieldValueNotSupported",
        field: `${f}.protocol`,
        value: p?.protocol,
        supported: PROTOCOLS,
      });
    if (typeof p?.targetPort === "number" || p?.targetPort === undefined)
      validatePort(p?.targetPort, `${f}.targetPort`, errors, false);
    if (p?.nodePort !== undefined && p.nodePort !== 0) {
      if (spec.type !== "NodePort" && spec.type !== "LoadBalancer")
        errors.push({
          type: "FieldValueForbidden",
          field: `${f}.nodePort`,
          detail: "may not be used when `type` is 'ClusterIP'",
        });
      else if (typeof p.nodePort !== "number" || p.nodePort < 30000 || p.nodePort > 32767)
        errors.push({
          type: "FieldValueInvalid",
          field: `${f}.nodePort`,
          value: p.nodePort,
          detail: "provided port is not in the valid range. The range of valid ports is 30000-32767",
        });
    }
  });
  if (!SERVICE_TYPES.includes(spec.type))
    errors.push({
      type: "FieldValueNotSupported",
      field: "spec.type",
      value: spec.type,
      supported: SERVICE_TYPES,
    });
  if (old && old.spec?.clusterIP && spec.clusterIP && old.spec.clusterIP !== spec.clusterIP)
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.clusterIP",
      value: spec.clusterIP,
      detail: "field is immutable",
    });
}

function validateCrd(obj: any, errors: FieldError[]): void {
  const spec = obj.spec ?? {};
  if (!spec.group) errors.push({ type: "FieldValueRequired", field: "spec.group" });
  if (!spec.names?.plural) errors.push({ type: "FieldValueRequired", field: "spec.names.plural" });
  if (!spec.names?.kind) errors.push({ type: "FieldValueRequired", field: "spec.names.kind" });
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster")
    errors.push({
      type: "FieldValueNotSupported",
      field: "spec.scope",
      value: spec.scope ?? "",
      supported: ["Cluster", "Namespaced"],
    });
  const versions: any[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0)
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.versions",
      value: versions,
      detail: "must have exactly one version marked as storage version",
    });
  else if (versions.filter((v) => v?.storage).length !== 1)
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.versions",
      value: new GoValue("[]apiextensions.CustomResourceDefinitionVersion{...}"),
      detail: "must have exactly one version marked as storage version",
    });
  versions.forEach((v, i) => {
    if (!v?.schema?.openAPIV3Schema)
      errors.push({
        type: "FieldValueRequired",
        field: `spec.versions[${i}].schema.openAPIV3Schema`,
        detail: "schemas are required",
      });
  });
  if (spec.group && spec.names?.plural && obj.metadata?.name !== `${spec.names.plural}.${spec.group}`)
    errors.push({
      type: "FieldValueInvalid",
      field: "metadata.name",
      value: obj.metadata?.name,
      detail: 'must be spec.names.plural+"."+spec.group',
    });
}

/** Validation errors of an object about to be stored (`old`: the stored one, on updates). */
const POD_UPDATE =
  "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds` or `spec.tolerations` (only additions to existing tolerations)";

/** Whether a pod update changes only what may change: images, activeDeadlineSeconds, added tolerations. */
function podSpecUpdatable(old: any, next: any): boolean {
  const a = structuredClone(old ?? {});
  const b = structuredClone(next ?? {});
  for (const list of ["containers", "initContainers"]) {
    const olds: any[] = a[list] ?? [];
    const news: any[] = b[list] ?? [];
    if (olds.length !== news.length) return false;
    olds.forEach((c, i) => {
      if (news[i]) c.image = news[i].image;
    });
  }
  a.activeDeadlineSeconds = b.activeDeadlineSeconds;
  const had: any[] = a.tolerations ?? [];
  const has: any[] = b.tolerations ?? [];
  if (had.every((t) => has.some((u) => JSON.stringify(u) === JSON.stringify(t))))
    a.tolerations = b.tolerations;
  return deepEqual(a, b);
}

function without(spec: any, keys: string[]): any {
  const out = { ...(spec ?? {}) };
  for (const k of keys) delete out[k];
  return out;
}

export function validate(rt: ResourceType, obj: any, old: any | undefined): FieldError[] {
  const errors: FieldError[] = [];
  switch (rt.gk) {
    case "/Pod":
      validatePodSpec(obj.spec, "spec", errors);
      if (old && !podSpecUpdatable(old.spec, obj.spec))
        // The real message goes on with a diff of the two specs.
        errors.push({ type: "FieldValueForbidden", field: "spec", detail: POD_UPDATE });
      break;
    case "apps/Deployment":
      validateWorkload(obj, old, errors);
      if (obj.spec?.strategy?.type === "Recreate" && obj.spec.strategy.rollingUpdate)
        errors.push({
          type: "FieldValueForbidden",
          field: "spec.strategy.rollingUpdate",
          detail: "may not be specified when strategy `type` is 'Recreate'",
        });
      break;
    case "apps/ReplicaSet":
      validateWorkload(obj, old, errors);
      break;
    case "apps/StatefulSet":
      validateWorkload(obj, old, errors);
      if (obj.spec?.updateStrategy?.type !== "RollingUpdate" && obj.spec?.updateStrategy?.rollingUpdate)
        errors.push({
          type: "FieldValueInvalid",
          field: "spec.updateStrategy.rollingUpdate",
          value: new GoValue(
            `apps.RollingUpdateStatefulSetStrategy{Partition:${obj.spec.updateStrategy.rollingUpdate.partition ?? 0}}`,
          ),
          detail: "only allowed for updateStrategy 'RollingUpdate'",
        });
      if (
        old &&
        !deepEqual(
          without(old.spec, ["replicas", "template", "updateStrategy"]),
          without(obj.spec, ["replicas", "template", "updateStrategy"]),
        )
      )
        errors.push({
          type: "FieldValueForbidden",
          field: "spec",
          detail:
            "updates to statefulset spec for fields other than 'replicas', 'template', and 'updateStrategy' are forbidden",
        });
      break;
    case "apps/DaemonSet":
      validateWorkload(obj, old, errors, { replicas: false });
      break;
    case "batch/Job":
      validateWorkload(obj, old, errors, { replicas: false, restartPolicies: ["OnFailure", "Never"] });
      if (old && !deepEqual(old.spec?.template, obj.spec?.template))
        // The real message prints the whole template with Go's %#v.
        errors.push({
          type: "FieldValueInvalid",
          field: "spec.template",
          value: new GoValue("core.PodTemplateSpec{...}"),
          detail: "field is immutable",
        });
      if (old && old.spec?.completions !== obj.spec?.completions)
        errors.push({
          type: "FieldValueInvalid",
          field: "spec.completions",
          value: obj.spec?.completions ?? null,
          detail: "field is immutable",
        });
      break;
    case "/Service":
      validateService(obj, old, errors);
      break;
    case "apiextensions.k8s.io/CustomResourceDefinition":
      validateCrd(obj, errors);
      break;
  }
  return errors;
}

// --- custom resources ---------------------------------------------------------------------------------------

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v === "object" ? "object" : typeof v;
}

function typeMatches(expected: string, v: unknown): boolean {
  const actual = typeName(v);
  return actual === expected || (expected === "number" && actual === "integer");
}

/**
 * Prunes fields the schema does not know (unless it preserves unknown fields), fills in `default`s, and
 * collects the validation errors of one value. Returns the pruned value.
 */
function walkSchema(v: unknown, s: any, path: string, errors: FieldError[]): unknown {
  if (!isObject(s)) return v;
  if (v === null && s.nullable) return v;
  if (
    s.type &&
    !typeMatches(s.type, v) &&
    !(s["x-kubernetes-int-or-string"] && (typeof v === "string" || Number.isInteger(v)))
  ) {
    errors.push({
      type: "FieldValueInvalid",
      field: path,
      value: typeName(v),
      detail: `${path} in body must be of type ${s.type}: ${JSON.stringify(typeName(v))}`,
    });
    return v;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v)))
    errors.push({ type: "FieldValueNotSupported", field: path, value: v, supported: s.enum.map(String) });
  if (typeof v === "number") {
    if (typeof s.minimum === "number") {
      if (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)
        errors.push({
          type: "FieldValueInvalid",
          field: path,
          value: v,
          detail: `${path} in body should be greater than ${s.exclusiveMinimum ? "" : "or equal to "}${s.minimum}`,
        });
    }
    if (typeof s.maximum === "number") {
      if (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)
        errors.push({
          type: "FieldValueInvalid",
          field: path,
          value: v,
          detail: `${path} in body should be less than ${s.exclusiveMaximum ? "" : "or equal to "}${s.maximum}`,
        });
    }
  }
  if (typeof v === "string") {
    if (typeof s.minLength === "number" && [...v].length < s.minLength)
      errors.push({
        type: "FieldValueInvalid",
        field: path,
        value: v,
        detail: `${path} in body should be at least ${s.minLength} chars long`,
      });
    if (typeof s.maxLength === "number" && [...v].length > s.maxLength)
      errors.push({
        type: "FieldValueInvalid",
        field: path,
        value: v,
        detail: `${path} in body should be at most ${s.maxLength} chars long`,
      });
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(v))
      errors.push({
        type: "FieldValueInvalid",
        field: path,
        value: v,
        detail: `${path} in body should match '${s.pattern}'`,
      });
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === "number" && v.length < s.minItems)
      errors.push({
        type: "FieldValueInvalid",
        field: path,
        value: v.length,
        detail: `${path} in body should have at least ${s.minItems} items`,
      });
    if (typeof s.maxItems === "number" && v.length > s.maxItems)
      errors.push({
        type: "FieldValueInvalid",
        field: path,
        value: v.length,
        detail: `${path} in body should have at most ${s.maxItems} items`,
      });
    return isObject(s.items) ? v.map((el, i) => walkSchema(el, s.items, `${path}[${i}]`, errors)) : v;
  }
  if (isObject(v)) {
    const props: Record<string, any> = isObject(s.properties) ? s.properties : {};
    const out: Record<string, unknown> = {};
    const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
    for (const k of Object.keys(v)) {
      const sub = props[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
      if (sub === undefined && !preserve && s.additionalProperties !== true) continue; // pruned
      out[k] = sub ? v[k] : v[k];
    }
    for (const [k, sub] of Object.entries(props))
      if (out[k] === undefined && isObject(sub) && sub.default !== undefined)
        out[k] = structuredClone(sub.default);
    for (const k of Object.keys(out).sort()) {
      const sub = props[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
      if (sub) out[k] = walkSchema(out[k], sub, path ? `${path}.${k}` : k, errors);
    }
    for (const r of Array.isArray(s.required) ? s.required : [])
      if (out[r] === undefined) errors.push({ type: "FieldValueRequired", field: path ? `${path}.${r}` : r });
    return out;
  }
  return v;
}

/** A custom object pruned and defaulted by its version's schema; the errors go to `errors`. */
export function pruneAndValidateCustom(obj: any, schema: any, errors: FieldError[]): any {
  if (!isObject(schema)) return obj;
  const { apiVersion, kind, metadata, ...rest } = obj;
  const body = walkSchema(
    rest,
    { ...schema, properties: { ...(schema.properties ?? {}) } },
    "",
    errors,
  ) as Record<string, unknown>;
  delete body.apiVersion;
  delete body.kind;
  delete body.metadata;
  return { apiVersion, kind, metadata, ...body };
}
