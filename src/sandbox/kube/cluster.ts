/**
 * The REST semantics of one simulated cluster, independent of HTTP: the types it serves (built-in and from
 * CRDs), create/get/list/replace/patch/apply/delete with kube-apiserver's preconditions, defaulting,
 * validation, field management, Service IP and node port allocation, garbage collection of dependents and
 * namespace deletion. The HTTP layer (simulator.ts) and the simulated controllers (workloads.ts) both call it.
 */
import { randomUUID } from "node:crypto";
import { applyDefaults, pruneAndValidateCustom, validate, validateName } from "./defaults.js";
import {
  applyConfig,
  builtinSchema,
  deepEqual,
  isObject,
  rfc3339,
  schemaFromOpenAPI,
  trackUpdate,
  withMetadata,
} from "./fields.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { builtinTypes, customType, type ResourceType } from "./resources.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import {
  STALE_OBJECT,
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  deleted,
  forbidden,
  invalid,
  notFound,
  unsupportedMediaType,
  type FieldError,
} from "./status.js";
import { Store, jsonOf, type Entry, type StoreEvent } from "./store.js";

export interface WriteContext {
  /** The field manager of the write (fieldManager, else the user agent's product, else `unknown`). */
  manager: string;
  dryRun?: boolean;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface DeleteOptions {
  propagationPolicy?: string;
  orphanDependents?: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = "merge" | "strategic" | "json" | "apply";

export const PATCH_TYPES: Record<string, PatchType> = {
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/json-patch+json": "json",
  "application/apply-patch+yaml": "apply",
};

const BUILTIN_TYPES = builtinTypes(builtinSchema);
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
export const CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions";

/** A write's answer: the object (or Status) and the HTTP status. */
export interface Written {
  code: number;
  /** The stored entry, when the answer is the object as stored. */
  entry?: Entry;
  body?: unknown;
}

function apiVersionOf(rt: ResourceType, version = rt.version): string {
  return rt.group ? `${rt.group}/${version}` : version;
}

/** Top-level and metadata keys in the order the real server writes them. */
const META_ORDER = [
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "clusterName",
  "managedFields",
];

function orderedMeta(meta: any): any {
  const out: any = {};
  // resourceVersion always has its place: the store fills it in.
  for (const k of META_ORDER) if (meta[k] !== undefined || k === "resourceVersion") out[k] = meta[k] ?? "";
  for (const k of Object.keys(meta)) if (out[k] === undefined && meta[k] !== undefined) out[k] = meta[k];
  return out;
}

/** The object as the real server would write it: kind and apiVersion first (custom objects: sorted keys). */
function normalize(rt: ResourceType, obj: any): any {
  const meta = orderedMeta(obj.metadata ?? {});
  if (rt.custom) {
    const out: any = {};
    for (const k of Object.keys(obj).sort()) out[k] = k === "metadata" ? meta : obj[k];
    return out;
  }
  const out: any = { kind: obj.kind, apiVersion: obj.apiVersion, metadata: meta };
  for (const k of Object.keys(obj)) if (out[k] === undefined && obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function randomSuffix(n = 5): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** 10.96.0.0/12, as addresses from 10.96.0.1 on. */
class IpAllocator {
  private next = 1;
  private readonly used = new Set<string>();
  allocate(): string {
    for (;;) {
      const n = this.next++;
      const ip = `10.${96 + ((n >> 16) & 0x0f)}.${(n >> 8) & 0xff}.${n & 0xff}`;
      if ((n & 0xff) !== 0 && (n & 0xff) !== 255 && !this.used.has(ip)) {
        this.used.add(ip);
        return ip;
      }
    }
  }
  take(ip: string): boolean {
    if (this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }
  release(ip: string | undefined): void {
    if (ip) this.used.delete(ip);
  }
}

class PortAllocator {
  private readonly used = new Set<number>();
  allocate(): number {
    for (;;) {
      const p = 30000 + Math.floor(Math.random() * 2768);
      if (!this.used.has(p)) {
        this.used.add(p);
        return p;
      }
    }
  }
  take(p: number): boolean {
    if (this.used.has(p)) return false;
    this.used.add(p);
    return true;
  }
  release(p: number | undefined): void {
    if (p) this.used.delete(p);
  }
}

export class ClusterState {
  readonly store: Store;
  private readonly byPath = new Map<string, ResourceType>();
  private readonly byKind = new Map<string, ResourceType>();
  private readonly customTypes = new Map<string, ResourceType>();
  private readonly ips = new IpAllocator();
  private readonly ports = new PortAllocator();
  private closed = false;

  /** `watchHistory`: how many changes watches can resume across (default 1000). */
  constructor(watchHistory?: number) {
    this.store = new Store(watchHistory);
    this.store.subscribe((ev) => this.onDeleted(ev));
    for (const rt of BUILTIN_TYPES) this.register(rt);
    for (const ns of ["default", "kube-system", "kube-public", "kube-node-lease"])
      this.create(
        this.typeOf("v1", "Namespace")!,
        "",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        SYSTEM,
      );
    this.create(
      this.typeOf("v1", "Service")!,
      "default",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
        spec: { ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
      },
      SYSTEM,
    );
  }

  close(): void {
    this.closed = true;
  }

  // --- types ------------------------------------------------------------------------------------------------

  private register(rt: ResourceType): void {
    const versions = rt.custom ? rt.custom.versions : [rt.version];
    for (const v of versions) {
      this.byPath.set(`${rt.group}/${v}/${rt.plural}`, rt);
      this.byKind.set(`${apiVersionOf(rt, v)}/${rt.kind}`, rt);
    }
  }

  private unregister(rt: ResourceType): void {
    for (const [k, v] of this.byPath) if (v === rt) this.byPath.delete(k);
    for (const [k, v] of this.byKind) if (v === rt) this.byKind.delete(k);
  }

  /** The type served at `/apis/<group>/<version>/<plural>` (group "" for /api/v1). */
  typeAt(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  typeOf(apiVersion: string, kind: string): ResourceType | undefined {
    return this.byKind.get(`${apiVersion}/${kind}`);
  }

  /** Every served type of a group version. */
  typesOf(group: string, version: string): ResourceType[] {
    const out: ResourceType[] = [];
    for (const [k, rt] of this.byPath) if (k.startsWith(`${group}/${version}/`)) out.push(rt);
    return out;
  }

  /** The groups of the CRDs, with their served versions (storage version first). */
  customGroups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const rt of this.customTypes.values()) {
      const versions = out.get(rt.group) ?? [];
      for (const v of rt.custom!.versions) if (!versions.includes(v)) versions.push(v);
      out.set(rt.group, versions);
    }
    return out;
  }

  // --- reads ------------------------------------------------------------------------------------------------

  get(rt: ResourceType, ns: string, name: string): Entry {
    const e = this.store.get(rt, ns, name);
    if (!e) throw notFound(rt.group, rt.plural, name);
    return e;
  }

  /** The JSON text of a list, built from the entries' cached JSON. */
  listJson(rt: ResourceType, ns: string | undefined, query: ListQuery, version = rt.version): string {
    const items = this.select(rt, ns, query);
    const apiVersion = apiVersionOf(rt, version);
    const rv = String(this.store.resourceVersion);
    if (rt.custom) {
      const texts = items.map((e) =>
        version === rt.version ? jsonOf(e) : JSON.stringify({ ...e.obj, apiVersion }),
      );
      return `{"apiVersion":${JSON.stringify(apiVersion)},"items":[${texts.join(",")}],"kind":${JSON.stringify(rt.listKind)},"metadata":{"continue":"","resourceVersion":"${rv}"}}`;
    }
    // Items of built-in lists have no kind and apiVersion: cut them off the cached text.
    const prefix = `{"kind":${JSON.stringify(rt.kind)},"apiVersion":${JSON.stringify(apiVersion)},`;
    const texts = items.map((e) => {
      const text = jsonOf(e);
      return text.startsWith(prefix) ? `{${text.slice(prefix.length)}` : text;
    });
    return `{"kind":${JSON.stringify(rt.listKind)},"apiVersion":${JSON.stringify(apiVersion)},"metadata":{"resourceVersion":"${rv}"},"items":[${texts.join(",")}]}`;
  }

  select(rt: ResourceType, ns: string | undefined, query: ListQuery): Entry[] {
    const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
    const fields = query.fieldSelector ? parseFieldSelector(query.fieldSelector) : undefined;
    const out: Entry[] = [];
    for (const e of this.store.list(rt, ns)) {
      if (labels && !labels(e.obj.metadata?.labels)) continue;
      if (fields && !fields(e.obj)) continue;
      out.push(e);
    }
    out.sort((a, b) => {
      const na = a.obj.metadata.namespace ?? "";
      const nb = b.obj.metadata.namespace ?? "";
      return na < nb ? -1 : na > nb ? 1 : a.obj.metadata.name < b.obj.metadata.name ? -1 : 1;
    });
    return out;
  }

  // --- writes -----------------------------------------------------------------------------------------------

  private checkKind(rt: ResourceType, body: any): void {
    if (!isObject(body)) throw badRequest(`the object provided is unrecognized (must be of type ${rt.kind})`);
    if (!body.kind) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
    const apiVersion = body.apiVersion;
    if (body.kind !== rt.kind || (apiVersion && this.typeOf(apiVersion, body.kind) !== rt))
      throw badRequest(`the object provided is unrecognized (must be of type ${rt.kind}): ${body.kind}`);
  }

  private checkNamespace(rt: ResourceType, ns: string, name: string): void {
    if (!rt.namespaced) return;
    const nsType = this.typeOf("v1", "Namespace")!;
    const namespace = this.store.get(nsType, "", ns);
    if (!namespace) throw notFound("", "namespaces", ns);
    if (namespace.obj.status?.phase === "Terminating")
      throw forbidden(
        rt.group,
        rt.plural,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
  }

  private validateOrThrow(rt: ResourceType, obj: any, old: any | undefined, extra: FieldError[] = []): void {
    const errors = [...extra, ...validate(rt, obj, old)];
    if (errors.length > 0) throw invalid(rt.kind, rt.group, obj.metadata?.name ?? "", errors);
  }

  /** Pruning, defaulting and validation of a custom object against its CRD schema. */
  private custom(rt: ResourceType, obj: any): any {
    const schema = rt.custom?.schemas.get(rt.version);
    if (!schema) return obj;
    const errors: FieldError[] = [];
    const pruned = pruneAndValidateCustom(obj, schema, errors);
    if (errors.length > 0) throw invalid(rt.kind, rt.group, obj.metadata?.name ?? "", errors);
    return pruned;
  }

  /** Allocates the Service's cluster IP and node ports (keeping those of `old` the update left out). */
  private allocateService(obj: any, old: any | undefined): FieldError[] {
    const spec = obj.spec;
    const errors: FieldError[] = [];
    const nodePorts = (t: unknown) => t === "NodePort" || t === "LoadBalancer";
    if (old && nodePorts(old.spec?.type) && !nodePorts(spec.type)) {
      // The type no longer has node ports: those carried over from the old object go (dropTypeDependentFields).
      const before = new Set((old.spec?.ports ?? []).map((p: any) => p.nodePort));
      for (const p of spec.ports ?? []) if (p.nodePort && before.has(p.nodePort)) delete p.nodePort;
      if (spec.externalTrafficPolicy === old.spec?.externalTrafficPolicy) delete spec.externalTrafficPolicy;
    }
    if (old) {
      if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = old.spec?.clusterIP;
      if (spec.clusterIPs === undefined && spec.clusterIP === old.spec?.clusterIP)
        spec.clusterIPs = old.spec?.clusterIPs;
    }
    if (spec.type !== "ExternalName") {
      if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = this.ips.allocate();
      else if (
        spec.clusterIP !== "None" &&
        spec.clusterIP !== old?.spec?.clusterIP &&
        !this.ips.take(spec.clusterIP)
      )
        errors.push({
          type: "FieldValueInvalid",
          field: "spec.clusterIP",
          value: spec.clusterIP,
          detail: "provided IP is already allocated",
        });
      spec.clusterIPs ??= [spec.clusterIP];
    }
    const oldPorts = new Map<string, number>();
    for (const p of old?.spec?.ports ?? [])
      if (p.nodePort) oldPorts.set(`${p.port}/${p.protocol}`, p.nodePort);
    const wantsNodePorts = spec.type === "NodePort" || spec.type === "LoadBalancer";
    (spec.ports ?? []).forEach((p: any, i: number) => {
      if (!wantsNodePorts) return;
      const kept = oldPorts.get(`${p.port}/${p.protocol}`);
      if (!p.nodePort) p.nodePort = kept ?? this.ports.allocate();
      else if (p.nodePort !== kept && !this.ports.take(p.nodePort))
        errors.push({
          type: "FieldValueInvalid",
          field: `spec.ports[${i}].nodePort`,
          value: p.nodePort,
          detail: "provided port is already allocated",
        });
    });
    return errors;
  }

  private releaseService(obj: any, keep?: any): void {
    const keptPorts = new Set<number>((keep?.spec?.ports ?? []).map((p: any) => p.nodePort));
    for (const p of obj.spec?.ports ?? []) if (!keptPorts.has(p.nodePort)) this.ports.release(p.nodePort);
    if (obj.spec?.clusterIP !== keep?.spec?.clusterIP && obj.spec?.clusterIP !== "None")
      this.ips.release(obj.spec?.clusterIP);
  }

  create(
    rt: ResourceType,
    ns: string,
    body: any,
    ctx: WriteContext,
    opts: { managedFields?: unknown; internal?: boolean } = {},
  ): Written {
    this.checkKind(rt, body);
    let obj = body;
    const meta = (obj.metadata = isObject(obj.metadata) ? { ...obj.metadata } : {});
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    const name: string = meta.name ?? "";
    if (rt.namespaced) {
      if (meta.namespace && meta.namespace !== ns)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      meta.namespace = ns;
    } else delete meta.namespace;
    obj.apiVersion = apiVersionOf(rt);
    const nameErrors = validateName(rt.nameRule, name);
    if (nameErrors.length > 0) throw invalid(rt.kind, rt.group, name, nameErrors);
    this.checkNamespace(rt, ns, name);

    for (const k of ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"])
      delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    if (rt.generation) meta.generation = 1;
    else delete meta.generation;
    if (rt.statusSubresource && !opts.internal) delete obj.status;
    if (rt.custom) obj = this.custom(rt, obj);
    applyDefaults(rt, obj, true);
    if (rt.statusSubresource && obj.status === undefined && ["apps", "batch"].includes(rt.group))
      obj.status = {};
    this.validateOrThrow(rt, obj, undefined);
    if (this.store.get(rt, ns, name)) throw alreadyExists(rt.group, rt.plural, name);
    if (rt.gk === "/Service") {
      const errors = this.allocateService(obj, undefined);
      if (errors.length > 0) {
        this.releaseService(obj);
        throw invalid(rt.kind, rt.group, name, errors);
      }
    }
    if (rt.key === CRD_KEY) this.establish(obj);
    meta.managedFields =
      opts.managedFields !== undefined
        ? opts.managedFields
        : trackUpdate(
            undefined,
            obj,
            ctx.manager,
            obj.apiVersion,
            rt.schema,
            !rt.statusSubresource,
            meta.creationTimestamp,
          );
    if (!meta.managedFields) delete meta.managedFields;
    const normalized = normalize(rt, obj);
    if (ctx.dryRun) {
      if (rt.gk === "/Service") this.releaseService(normalized);
      delete normalized.metadata.resourceVersion;
      return { code: 201, body: normalized };
    }
    const entry = this.store.put(rt, normalized);
    if (rt.key === CRD_KEY) this.registerCrd(entry.obj);
    if (rt.gk === "/Namespace") this.createDefaultServiceAccount(name);
    return { code: 201, entry };
  }

  private createDefaultServiceAccount(ns: string): void {
    const sa = this.typeOf("v1", "ServiceAccount")!;
    if (this.store.get(sa, ns, "default")) return;
    this.create(
      sa,
      ns,
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } },
      CONTROLLER_MANAGER,
    );
  }

  replace(
    rt: ResourceType,
    ns: string,
    name: string,
    body: any,
    ctx: WriteContext,
    subresource?: string,
  ): Written {
    const existing = this.get(rt, ns, name);
    this.checkKind(rt, body);
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (meta.name !== undefined && meta.name !== name)
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    if (rt.namespaced && meta.namespace && meta.namespace !== ns)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    const rv = meta.resourceVersion;
    if (rv === undefined || rv === "") {
      if (!rt.allowUnconditionalUpdate)
        throw new StatusError(
          422,
          "Invalid",
          `${rt.group ? `${rt.plural}.${rt.group}` : rt.plural} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          {
            name,
            ...(rt.group ? { group: rt.group } : {}),
            kind: rt.plural,
            causes: [
              {
                reason: "FieldValueInvalid",
                message: "Invalid value: 0x0: must be specified for an update",
                field: "metadata.resourceVersion",
              },
            ],
          },
        );
    } else if (rv !== existing.obj.metadata.resourceVersion)
      throw conflict(rt.group, rt.plural, name, STALE_OBJECT);
    return this.update(rt, existing, { ...body, metadata: { ...meta, name } }, ctx, { subresource });
  }

  /** The common tail of replace, patch and apply: an existing object becomes `candidate`. */
  private update(
    rt: ResourceType,
    existing: Entry,
    candidate: any,
    ctx: WriteContext,
    opts: { subresource?: string; managedFields?: unknown; internal?: boolean } = {},
  ): Written {
    const old = existing.obj;
    let obj = structuredClone(candidate);
    obj.kind = rt.kind;
    obj.apiVersion = apiVersionOf(rt);
    const meta = (obj.metadata = isObject(obj.metadata) ? obj.metadata : {});
    for (const k of [
      "name",
      "namespace",
      "uid",
      "creationTimestamp",
      "generation",
      "deletionTimestamp",
      "deletionGracePeriodSeconds",
      "selfLink",
    ]) {
      if (old.metadata[k] === undefined) delete meta[k];
      else meta[k] = old.metadata[k];
    }
    delete meta.resourceVersion;
    if (
      meta.managedFields === undefined &&
      old.metadata.managedFields !== undefined &&
      opts.managedFields === undefined
    )
      meta.managedFields = old.metadata.managedFields;
    if (opts.subresource === "status") {
      obj = { ...structuredClone(old), status: obj.status };
    } else if (rt.statusSubresource && !opts.internal) {
      if (old.status === undefined) delete obj.status;
      else obj.status = old.status;
    }
    if (rt.custom) obj = this.custom(rt, obj);
    applyDefaults(rt, obj, false);
    let extra: FieldError[] = [];
    if (rt.gk === "/Service") extra = this.allocateService(obj, old);
    try {
      this.validateOrThrow(rt, obj, old, extra);
    } catch (err) {
      if (rt.gk === "/Service") this.releaseService(obj, old);
      throw err;
    }
    const specChanged = Object.keys({ ...obj, ...old }).some(
      (k) =>
        k !== "metadata" &&
        k !== "status" &&
        k !== "kind" &&
        k !== "apiVersion" &&
        !deepEqual(obj[k], old[k]),
    );
    if (rt.generation && specChanged) meta.generation = (old.metadata.generation ?? 0) + 1;
    const m = obj.metadata;
    if (opts.managedFields !== undefined) m.managedFields = opts.managedFields;
    else if (!opts.internal) {
      const tracked = trackUpdate(
        old,
        obj,
        ctx.manager,
        obj.apiVersion,
        rt.schema,
        !rt.statusSubresource || opts.subresource === "status",
        rfc3339(),
      );
      if (tracked === undefined) delete m.managedFields;
      else m.managedFields = tracked;
    }
    if (!m.managedFields) delete m.managedFields;
    const normalized = normalize(rt, obj);
    normalized.metadata.resourceVersion = old.metadata.resourceVersion;
    if (deepEqual(normalized, old)) return { code: 200, entry: existing };
    if (ctx.dryRun) {
      if (rt.gk === "/Service") this.releaseService(normalized, old);
      return { code: 200, body: normalized };
    }
    if (rt.gk === "/Service") this.releaseService(old, normalized);
    // The last finalizer gone from an object being deleted: it goes.
    if (m.deletionTimestamp && !(normalized.metadata.finalizers?.length > 0)) {
      const final = this.remove(rt, normalized);
      this.later(() => this.collect(normalized.metadata.uid));
      return { code: 200, entry: final ?? existing };
    }
    const entry = this.store.put(rt, normalized);
    if (rt.key === CRD_KEY) this.registerCrd(entry.obj);
    return { code: 200, entry };
  }

  /** Writes by the simulated controllers: an object's status (or whole object), without field tracking. */
  writeInternal(rt: ResourceType, existing: Entry, next: any): Entry {
    const obj = {
      ...next,
      metadata: { ...next.metadata, resourceVersion: existing.obj.metadata.resourceVersion },
    };
    if (deepEqual(obj, existing.obj)) return existing;
    delete obj.metadata.resourceVersion;
    return this.store.put(rt, normalize(rt, obj));
  }

  patch(
    rt: ResourceType,
    ns: string,
    name: string,
    type: PatchType,
    patch: unknown,
    ctx: WriteContext,
    opts: { force?: boolean; subresource?: string; fieldManager?: string } = {},
  ): Written {
    if (type === "apply") return this.apply(rt, ns, name, patch, ctx, opts);
    if (type === "strategic" && rt.custom)
      throw unsupportedMediaType([
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
      ]);
    const existing = this.get(rt, ns, name);
    const current = existing.obj;
    let patched: any;
    if (type === "merge") patched = mergePatch(current, patch);
    else if (type === "strategic") patched = strategicMergePatch(current, patch, rt.schema);
    else patched = jsonPatch(current, patch);
    if (!isObject(patched)) throw badRequest("the patch did not produce an object");
    const rv = patched.metadata?.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion)
      throw conflict(rt.group, rt.plural, name, STALE_OBJECT);
    if (patched.metadata?.name !== name)
      throw badRequest(
        `the name of the object (${patched.metadata?.name}) does not match the name on the URL (${name})`,
      );
    return this.update(rt, existing, patched, ctx, { subresource: opts.subresource });
  }

  apply(
    rt: ResourceType,
    ns: string,
    name: string,
    config: unknown,
    ctx: WriteContext,
    opts: { force?: boolean; subresource?: string; fieldManager?: string } = {},
  ): Written {
    if (!opts.fieldManager)
      throw new StatusError(
        422,
        "Invalid",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {
          group: "meta.k8s.io",
          kind: "PatchOptions",
          causes: [
            {
              reason: "FieldValueRequired",
              message: "Required value: is required for apply patch",
              field: "fieldManager",
            },
          ],
        },
      );
    if (!isObject(config)) throw badRequest("error decoding YAML: the apply configuration is not an object");
    this.checkKind(rt, config);
    const meta = isObject(config.metadata) ? config.metadata : {};
    if (meta.name !== undefined && meta.name !== name)
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    if (rt.namespaced && meta.namespace && meta.namespace !== ns)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    const apiVersion = apiVersionOf(rt);
    const existing = this.store.get(rt, ns, name);
    const now = rfc3339();
    const settings = {
      manager: opts.fieldManager,
      force: opts.force ?? false,
      apiVersion,
      schema: rt.schema,
      withStatus: !rt.statusSubresource || opts.subresource === "status",
      now,
    };
    if (!existing) {
      if (opts.subresource) throw notFound(rt.group, rt.plural, name);
      const result = applyConfig(undefined, config, settings);
      const obj = {
        ...result.object,
        apiVersion,
        kind: rt.kind,
        metadata: { ...result.object.metadata, name, ...(rt.namespaced ? { namespace: ns } : {}) },
      };
      return this.create(rt, ns, obj, ctx, { managedFields: result.managedFields ?? null });
    }
    const result = applyConfig(existing.obj, config, settings);
    const candidate = { ...result.object, metadata: { ...result.object.metadata } };
    // A Secret's stringData never stays in the object, so kube-apiserver 1.20 sees its applier's fields change
    // on every apply and stamps the entry's time anew: a write whenever the clock has moved to another second.
    let managedFields = result.managedFields ?? null;
    if (rt.gk === "/Secret" && isObject(config.stringData) && managedFields)
      managedFields = managedFields.map((m) =>
        m.manager === opts.fieldManager && m.operation === "Apply" ? { ...m, time: now } : m,
      );
    return this.update(rt, existing, candidate, ctx, { subresource: opts.subresource, managedFields });
  }

  delete(rt: ResourceType, ns: string, name: string, options: DeleteOptions, ctx: WriteContext): Written {
    const existing = this.get(rt, ns, name);
    const obj = existing.obj;
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== obj.metadata.uid)
      throw conflict(
        rt.group,
        rt.plural,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion)
      throw conflict(
        rt.group,
        rt.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
      );
    const policy =
      options.propagationPolicy ??
      (options.orphanDependents === true
        ? "Orphan"
        : options.orphanDependents === false
          ? "Background"
          : rt.defaultPropagation);
    if (!["Orphan", "Background", "Foreground"].includes(policy))
      throw invalid("DeleteOptions", "", "", [
        {
          type: "FieldValueNotSupported",
          field: "propagationPolicy",
          value: policy,
          supported: ["Foreground", "Background", "Orphan", "nil"],
        },
      ]);
    // An object that stays (finalizers, graceful deletion) is answered; a deleted one as its type says.
    const answer = (final: Entry | undefined, fallback: any, stays = false): Written =>
      rt.deleteReturnsObject || stays
        ? final
          ? { code: 200, entry: final }
          : { code: 200, body: fallback }
        : { code: 200, body: deleted(rt.group, rt.plural, name, obj.metadata.uid) };
    if (ctx.dryRun) return answer(undefined, obj);

    if (rt.gk === "/Namespace") {
      if (PROTECTED_NAMESPACES.has(name))
        throw forbidden("", "namespaces", name, "this namespace may not be deleted");
      if (obj.status?.phase === "Terminating") return { code: 200, entry: existing };
      const next = {
        ...obj,
        metadata: { ...obj.metadata, deletionTimestamp: rfc3339() },
        status: { ...obj.status, phase: "Terminating" },
      };
      const entry = this.store.put(rt, next);
      this.later(() => this.finishNamespace(name));
      return { code: 200, entry };
    }
    const now = rfc3339();
    if (obj.metadata.deletionTimestamp) return answer(existing, obj, true);
    if (obj.metadata.finalizers?.length > 0) {
      const entry = this.store.put(rt, {
        ...obj,
        metadata: { ...obj.metadata, deletionTimestamp: now, deletionGracePeriodSeconds: 0 },
      });
      return answer(entry, entry.obj, true);
    }
    if (
      rt.gk === "/Pod" &&
      obj.spec?.nodeName &&
      options.gracePeriodSeconds !== 0 &&
      !["Succeeded", "Failed"].includes(obj.status?.phase)
    ) {
      // A kubelet runs it: the pod terminates first (workloads.ts plays the kubelet).
      const grace = options.gracePeriodSeconds ?? obj.spec.terminationGracePeriodSeconds ?? 30;
      const entry = this.store.put(rt, {
        ...obj,
        metadata: {
          ...obj.metadata,
          deletionTimestamp: rfc3339(Date.now() + grace * 1000),
          deletionGracePeriodSeconds: grace,
        },
      });
      if (policy !== "Orphan") this.later(() => this.collect(obj.metadata.uid));
      return answer(entry, entry.obj, true);
    }
    if (policy === "Foreground" && this.store.dependents(obj.metadata.uid).length > 0) {
      const entry = this.store.put(rt, {
        ...obj,
        metadata: {
          ...obj.metadata,
          deletionTimestamp: now,
          deletionGracePeriodSeconds: 0,
          finalizers: [...(obj.metadata.finalizers ?? []), "foregroundDeletion"],
        },
      });
      this.later(() => this.foreground(rt, entry.obj));
      return answer(entry, entry.obj, true);
    }
    if (policy === "Orphan") this.orphan(obj.metadata.uid);
    const final = this.remove(
      rt,
      obj,
      rt.gk === "/Pod" ? { deletionTimestamp: now, deletionGracePeriodSeconds: 0 } : undefined,
    );
    if (policy !== "Orphan") this.later(() => this.collect(obj.metadata.uid));
    return answer(final, final?.obj ?? obj);
  }

  deleteCollection(
    rt: ResourceType,
    ns: string | undefined,
    query: ListQuery,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Written {
    for (const e of this.select(rt, ns, query)) {
      try {
        this.delete(rt, e.obj.metadata.namespace ?? "", e.obj.metadata.name, options, ctx);
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
    return { code: 200, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" } };
  }

  /** Removes an object for good (its last finalizer went, its grace period passed, its namespace went). */
  remove(rt: ResourceType, obj: any, metaOnDelete?: Record<string, unknown>): Entry | undefined {
    const ns = obj.metadata.namespace ?? "";
    if (rt.gk === "/Service") this.releaseService(obj);
    if (metaOnDelete) {
      const cur = this.store.get(rt, ns, obj.metadata.name);
      if (cur) {
        // The DELETED event and the answer show the deletion timestamp, as the real server's do.
        this.store.remove(rt, ns, obj.metadata.name);
        return {
          rt,
          obj: {
            ...cur.obj,
            metadata: {
              ...cur.obj.metadata,
              ...metaOnDelete,
              resourceVersion: String(this.store.resourceVersion),
            },
          },
        };
      }
    }
    const entry = this.store.remove(rt, ns, obj.metadata.name);
    if (rt.key === CRD_KEY && entry) this.unregisterCrd(entry.obj);
    return entry;
  }

  /** Runs `fn` after the current request, like the real server's asynchronous controllers. */
  later(fn: () => void): void {
    setImmediate(() => {
      if (!this.closed) fn();
    });
  }

  /** Background garbage collection: dependents of a deleted owner go when they have no other owner left. */
  collect(ownerUid: string): void {
    for (const dep of this.store.dependents(ownerUid)) {
      const cur = this.store.get(dep.rt, dep.obj.metadata.namespace ?? "", dep.obj.metadata.name);
      if (!cur || cur.obj.metadata.uid !== dep.obj.metadata.uid) continue;
      const refs: any[] = cur.obj.metadata.ownerReferences ?? [];
      const alive = refs.filter((r) => r.uid !== ownerUid && this.ownerExists(r, cur.obj.metadata.namespace));
      if (alive.length > 0) {
        this.writeInternal(cur.rt, cur, {
          ...cur.obj,
          metadata: { ...cur.obj.metadata, ownerReferences: refs.filter((r) => r.uid !== ownerUid) },
        });
        continue;
      }
      try {
        this.delete(
          cur.rt,
          cur.obj.metadata.namespace ?? "",
          cur.obj.metadata.name,
          { propagationPolicy: "Background" },
          CONTROLLER_MANAGER,
        );
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
  }

  private ownerExists(ref: any, ns: string | undefined): boolean {
    const rt = this.typeOf(ref.apiVersion, ref.kind);
    if (!rt) return false;
    const e = this.store.get(rt, rt.namespaced ? (ns ?? "") : "", ref.name);
    return Boolean(e && e.obj.metadata.uid === ref.uid);
  }

  private orphan(ownerUid: string): void {
    for (const dep of this.store.dependents(ownerUid)) {
      const refs = (dep.obj.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== ownerUid);
      const meta = { ...dep.obj.metadata, ownerReferences: refs };
      if (refs.length === 0) delete meta.ownerReferences;
      this.writeInternal(dep.rt, dep, { ...dep.obj, metadata: meta });
    }
  }

  /**
   * Foreground deletion: the dependents go first; the owner (holding the foregroundDeletion finalizer) goes
   * once the last of them is deleted, which a store listener notices (no polling).
   */
  private foreground(rt: ResourceType, owner: any): void {
    const uid = owner.metadata.uid;
    const check = () => {
      const cur = this.store.get(rt, owner.metadata.namespace ?? "", owner.metadata.name);
      if (!cur || cur.obj.metadata.uid !== uid) {
        this.waitingOwners.delete(uid);
        return;
      }
      if (this.store.dependents(uid).length > 0) return;
      this.waitingOwners.delete(uid);
      const finalizers = (cur.obj.metadata.finalizers ?? []).filter(
        (f: string) => f !== "foregroundDeletion",
      );
      const meta = { ...cur.obj.metadata, finalizers };
      if (finalizers.length === 0) {
        delete meta.finalizers;
        this.remove(rt, { ...cur.obj, metadata: meta });
      } else this.writeInternal(rt, cur, { ...cur.obj, metadata: meta });
    };
    this.waitingOwners.set(uid, check);
    this.collect(uid);
    check();
  }

  /** Owners in foreground deletion, by uid: re-checked when one of their dependents is deleted. */
  private readonly waitingOwners = new Map<string, () => void>();

  private onDeleted(ev: StoreEvent): void {
    if (ev.type !== "DELETED" || this.waitingOwners.size === 0) return;
    for (const ref of ev.entry.obj.metadata?.ownerReferences ?? []) {
      const check = this.waitingOwners.get(ref.uid);
      if (check) this.later(check);
    }
  }

  /** The namespace controller: everything in a terminating namespace goes, then the namespace. */
  private finishNamespace(name: string): void {
    const nsType = this.typeOf("v1", "Namespace")!;
    const ns = this.store.get(nsType, "", name);
    if (!ns || ns.obj.status?.phase !== "Terminating") return;
    for (const key of this.store.typesIn(name)) {
      const rt = [...this.byPath.values()].find((t) => t.key === key);
      if (!rt) continue;
      for (const e of [...this.store.list(rt, name)]) this.remove(rt, e.obj);
    }
    this.remove(nsType, ns.obj);
  }

  // --- CRDs -------------------------------------------------------------------------------------------------

  /** The CRD's status as the apiextensions controllers leave it: names accepted, established. */
  private establish(crd: any): void {
    const now = rfc3339();
    const names = { ...crd.spec.names };
    names.singular ??= String(names.kind).toLowerCase();
    names.listKind ??= `${names.kind}List`;
    crd.spec.names = names;
    crd.status = {
      conditions: [
        {
          type: "NamesAccepted",
          status: "True",
          lastTransitionTime: now,
          reason: "NoConflicts",
          message: "no conflicts found",
        },
        {
          type: "Established",
          status: "True",
          lastTransitionTime: now,
          reason: "InitialNamesAccepted",
          message: "the initial names have been accepted",
        },
      ],
      acceptedNames: names,
      storedVersions: crd.spec.versions.filter((v: any) => v.storage).map((v: any) => v.name),
    };
  }

  private registerCrd(crd: any): void {
    const previous = this.customTypes.get(crd.metadata.name);
    if (previous) this.unregister(previous);
    const rt = customType(crd, (s) => withMetadata(schemaFromOpenAPI(s)));
    this.customTypes.set(crd.metadata.name, rt);
    this.register(rt);
  }

  private unregisterCrd(crd: any): void {
    const rt = this.customTypes.get(crd.metadata.name);
    if (!rt) return;
    for (const e of [...this.store.list(rt)]) this.remove(rt, e.obj);
    this.customTypes.delete(crd.metadata.name);
    this.unregister(rt);
  }
}

/** The writes the cluster makes itself. */
export const SYSTEM: WriteContext = { manager: "kube-apiserver" };
export const CONTROLLER_MANAGER: WriteContext = { manager: "kube-controller-manager" };
