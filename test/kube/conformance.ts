/**
 * One client-level conformance suite for a Kubernetes API: run against the real kube-apiserver v1.20.2
 * (conformance-apiserver.test.ts) and against the simulator (conformance-simulator.test.ts), so that what
 * the controllers rely on behaves alike on both. Everything goes through KubeClient and the same node:https
 * sender it uses; where a status code or a raw body matters, through `raw()`.
 *
 * Covered: version and discovery, authentication, namespaces, create/get/list/replace/delete and their
 * errors (404, 409 AlreadyExists, 409 Conflict on a stale resourceVersion, 422 Invalid) as metav1.Status,
 * merge/strategic-merge/JSON patches, server-side apply (create, idempotent re-apply, dropped fields,
 * conflicts with appliers and updaters, force, YAML bodies), Service and Deployment defaulting, CRDs and
 * custom objects (discovery, schema validation, pruning), deletion with Background propagation, watches
 * from a resourceVersion, and — where the target runs controllers — Deployments becoming ReplicaSets and
 * Pods and namespaces finishing their deletion.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeApiError, KubeClient, UnknownKindError } from "../../src/kube/client.js";
import { connectionOf } from "../../src/kube/kubeconfig.js";
import { nodeHttp, type HttpSend } from "../../src/util/http.js";
import { ndjsonLines } from "../../src/client/ndjson.js";

export interface ConformanceTarget {
  kubeconfig: Record<string, unknown>;
  /**
   * Controllers run (kube-controller-manager or the simulator's): Deployments get ReplicaSets and Pods,
   * deleted owners lose their dependents, deleted namespaces go away.
   */
  controllers: boolean;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  body: any;
  text: string;
}

/** One poll-until for every Kubernetes test: the simulator's own tests use it too. */
export { until } from "../../src/sandbox/kube/test-support.js";
import { until } from "../../src/sandbox/kube/test-support.js";

/** A client and a raw caller for one kubeconfig. */
export function connect(kubeconfig: Record<string, unknown>) {
  const conn = connectionOf(kubeconfig);
  const send: HttpSend = nodeHttp({
    ca: conn.ca,
    cert: conn.cert,
    key: conn.key,
    servername: conn.servername,
  });
  const client = new KubeClient(conn, { http: send });
  const headers = (extra: Record<string, string> = {}) => ({
    Accept: "application/json",
    ...(conn.authorization ? { Authorization: conn.authorization } : {}),
    ...extra,
  });
  /** One request; a string body is sent as is, anything else as JSON. */
  async function raw(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    token?: string,
    accept?: string,
  ): Promise<Reply> {
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const h = headers(text === undefined ? {} : { "Content-Type": contentType });
    if (token !== undefined) h.Authorization = `Bearer ${token}`;
    if (accept !== undefined) h.Accept = accept;
    const res = await send(new URL(conn.server + path), { method, headers: h, body: text });
    const answer = await res.text();
    let parsed: any = answer;
    try {
      parsed = answer ? JSON.parse(answer) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text: answer };
  }
  /** A watch: collects events until stopped. */
  function watch(path: string) {
    const events: { type: string; object: any }[] = [];
    const controller = new AbortController();
    const done = (async () => {
      const res = await send(new URL(conn.server + path), {
        method: "GET",
        headers: headers(),
        signal: controller.signal,
      });
      if (res.status !== 200) throw new Error(`watch ${path}: HTTP ${res.status} ${await res.text()}`);
      for await (const line of ndjsonLines(res.chunks(), controller.signal)) events.push(JSON.parse(line));
    })().catch((err) => {
      if (!controller.signal.aborted) throw err;
    });
    return {
      events,
      async stop() {
        controller.abort();
        await done;
      },
      /** Waits for an event matching `pred`. */
      next(what: string, pred: (e: { type: string; object: any }) => boolean) {
        return until(what, async () => events.find(pred), 15_000);
      },
    };
  }
  return { client, raw, watch, server: conn.server };
}

const APPLY = "application/apply-patch+yaml";
const apply = (path: string, manager = "krake", force = false) =>
  `${path}?fieldManager=${manager}${force ? "&force=true" : ""}`;

function configMap(name: string, ns: string, data: Record<string, string>, labels?: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
    data,
  };
}

function deployment(name: string, ns: string, replicas: number, image = "nginx:1.19") {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "web",
              image,
              // Server-side apply in 1.20 needs the protocol of Service ports; container ports default it.
              ports: [{ containerPort: 80 }],
              resources: { requests: { cpu: "10m", memory: "16Mi" } },
            },
          ],
        },
      },
    },
  };
}

function assertStatus(reply: Reply, code: number, reason: string) {
  assert.equal(reply.status, code, reply.text);
  assert.equal(reply.body.kind, "Status", reply.text);
  assert.equal(reply.body.apiVersion, "v1");
  assert.equal(reply.body.status, "Failure");
  assert.equal(reply.body.code, code);
  assert.equal(reply.body.reason, reason);
}

/** The managers and operations of an object's managedFields, e.g. `["krake/Apply"]`. */
const managers = (obj: any) =>
  (obj.metadata.managedFields ?? []).map((f: any) => `${f.manager}/${f.operation}`);

export function kubeConformance(
  label: string,
  start: () => Promise<ConformanceTarget>,
  opts: { skip?: string | false } = {},
): void {
  describe(label, { skip: opts.skip || undefined }, () => {
    let target: ConformanceTarget;
    let k: ReturnType<typeof connect>;
    const NS = "conformance";

    before(async () => {
      target = await start();
      k = connect(target.kubeconfig);
      const created = await k.raw("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS },
      });
      assert.equal(created.status, 201, created.text);
    });
    after(async () => {
      await target?.close();
    });

    it("serves /version as Kubernetes 1.20.2", async () => {
      const v = await k.client.version();
      assert.equal(v.major, "1");
      assert.equal(v.minor, "20");
      assert.match(v.gitVersion, /^v1\.20\.2/);
    });

    it("serves discovery: /api, /api/v1, /apis and group versions, which KubeClient resolves kinds with", async () => {
      const api = await k.raw("GET", "/api");
      assert.equal(api.body.kind, "APIVersions");
      assert.deepEqual(api.body.versions, ["v1"]);

      const core = await k.raw("GET", "/api/v1");
      assert.equal(core.body.kind, "APIResourceList");
      assert.equal(core.body.groupVersion, "v1");
      const byName = new Map(core.body.resources.map((r: any) => [r.name, r]));
      for (const [name, kind, namespaced] of [
        ["configmaps", "ConfigMap", true],
        ["namespaces", "Namespace", false],
        ["nodes", "Node", false],
        ["pods", "Pod", true],
        ["secrets", "Secret", true],
        ["services", "Service", true],
      ] as const) {
        const r: any = byName.get(name);
        assert.ok(r, `${name} in /api/v1`);
        assert.equal(r.kind, kind);
        assert.equal(r.namespaced, namespaced);
        assert.ok(r.verbs.includes("patch") && r.verbs.includes("watch"), `${name} verbs`);
      }
      assert.deepEqual((byName.get("pods/status") as any)?.verbs, ["get", "patch", "update"]);
      assert.deepEqual((byName.get("services") as any)?.shortNames, ["svc"]);

      const groups = await k.raw("GET", "/apis");
      assert.equal(groups.body.kind, "APIGroupList");
      const group = (name: string) => groups.body.groups.find((g: any) => g.name === name);
      assert.deepEqual(group("apps")?.preferredVersion, { groupVersion: "apps/v1", version: "v1" });
      assert.equal(group("batch")?.preferredVersion.version, "v1");
      assert.ok(group("apiextensions.k8s.io"));

      const apps = await k.raw("GET", "/apis/apps/v1");
      assert.equal(apps.body.groupVersion, "apps/v1");
      const deployments = apps.body.resources.find((r: any) => r.name === "deployments");
      assert.deepEqual(deployments.shortNames, ["deploy"]);
      assert.deepEqual(deployments.categories, ["all"]);
      assert.ok(apps.body.resources.some((r: any) => r.name === "deployments/status"));

      for (const [apiVersion, kind, plural, namespaced] of [
        ["apps/v1", "Deployment", "deployments", true],
        ["apps/v1", "StatefulSet", "statefulsets", true],
        ["apps/v1", "DaemonSet", "daemonsets", true],
        ["apps/v1", "ReplicaSet", "replicasets", true],
        ["batch/v1", "Job", "jobs", true],
        ["v1", "Namespace", "namespaces", false],
        ["apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false],
      ] as const)
        assert.deepEqual(await k.client.resource(apiVersion, kind), { apiVersion, kind, plural, namespaced });
      await assert.rejects(k.client.resource("apps/v1", "Gizmo"), UnknownKindError);
      await assert.rejects(k.client.resource("nothing.example/v1", "Gizmo"), UnknownKindError);
      assert.equal((await k.raw("GET", "/apis/nothing.example/v1")).status, 404);
    });

    it("refuses a wrong bearer token with 401 Unauthorized", async () => {
      const res = await k.raw("GET", "/api/v1/namespaces", undefined, undefined, "not-the-token");
      assertStatus(res, 401, "Unauthorized");
      assert.equal(res.body.message, "Unauthorized");
    });

    it("creates, gets and lists namespaces; objects need an existing namespace", async () => {
      const ns = await k.client.get<any>({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
      assert.equal(ns.status.phase, "Active");
      assert.deepEqual(ns.spec.finalizers, ["kubernetes"]);
      const names = (await k.client.list("v1", "Namespace", null)).map((n) => n.metadata.name);
      for (const n of ["default", "kube-system", "kube-public", NS]) assert.ok(names.includes(n), n);

      const missing = await k.raw(
        "POST",
        "/api/v1/namespaces/no-such-ns/configmaps",
        configMap("x", "no-such-ns", {}),
      );
      assertStatus(missing, 404, "NotFound");
      assert.equal(missing.body.message, 'namespaces "no-such-ns" not found');
      assert.deepEqual(missing.body.details, { name: "no-such-ns", kind: "namespaces" });

      const dup = await k.raw("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS },
      });
      assertStatus(dup, 409, "AlreadyExists");
      assert.equal(dup.body.message, `namespaces "${NS}" already exists`);

      const protectedNs = await k.raw("DELETE", "/api/v1/namespaces/default");
      assertStatus(protectedNs, 403, "Forbidden");
      assert.equal(
        protectedNs.body.message,
        'namespaces "default" is forbidden: this namespace may not be deleted',
      );
    });

    it("creates, gets, lists, replaces and deletes a ConfigMap with metav1.Status errors like the real server", async () => {
      const path = `/api/v1/namespaces/${NS}/configmaps`;
      const created = await k.raw(
        "POST",
        `${path}?fieldManager=conformance`,
        configMap("settings", NS, { mode: "fast" }, { app: "crud", tier: "a" }),
      );
      assert.equal(created.status, 201, created.text);
      const cm = created.body;
      assert.equal(cm.kind, "ConfigMap");
      assert.equal(cm.apiVersion, "v1");
      assert.equal(cm.metadata.namespace, NS);
      assert.match(cm.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.match(cm.metadata.resourceVersion, /^\d+$/);
      assert.match(cm.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(cm.metadata.generation, undefined);
      assert.deepEqual(managers(cm), ["conformance/Update"]);

      const again = await k.raw("POST", path, configMap("settings", NS, {}));
      assertStatus(again, 409, "AlreadyExists");
      assert.equal(again.body.message, 'configmaps "settings" already exists');
      assert.deepEqual(again.body.details, { name: "settings", kind: "configmaps" });

      await k.raw("POST", path, configMap("other", NS, { mode: "slow" }, { app: "crud", tier: "b" }));
      const got = await k.client.get<any>({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "settings", namespace: NS },
      });
      assert.equal(got.data.mode, "fast");
      assert.equal(got.metadata.resourceVersion, cm.metadata.resourceVersion);

      const list = await k.raw("GET", `${path}?labelSelector=app%3Dcrud`);
      assert.equal(list.body.kind, "ConfigMapList");
      assert.equal(list.body.apiVersion, "v1");
      assert.match(list.body.metadata.resourceVersion, /^\d+$/);
      assert.deepEqual(
        list.body.items.map((i: any) => i.metadata.name),
        ["other", "settings"],
      );
      const selected = await k.raw("GET", `${path}?labelSelector=${encodeURIComponent("app=crud,tier!=b")}`);
      assert.deepEqual(
        selected.body.items.map((i: any) => i.metadata.name),
        ["settings"],
      );
      const inSet = await k.raw("GET", `${path}?labelSelector=${encodeURIComponent("tier in (b,c)")}`);
      assert.deepEqual(
        inSet.body.items.map((i: any) => i.metadata.name),
        ["other"],
      );
      const byName = await k.raw("GET", `${path}?fieldSelector=metadata.name%3Dsettings`);
      assert.deepEqual(
        byName.body.items.map((i: any) => i.metadata.name),
        ["settings"],
      );
      const badSelector = await k.raw("GET", `${path}?labelSelector=%3Dx`);
      assertStatus(badSelector, 400, "BadRequest");

      const replaced = await k.raw("PUT", `${path}/settings`, { ...got, data: { mode: "safe" } });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(replaced.body.data.mode, "safe");
      assert.ok(Number(replaced.body.metadata.resourceVersion) > Number(got.metadata.resourceVersion));

      const stale = await k.raw("PUT", `${path}/settings`, { ...got, data: { mode: "stale" } });
      assertStatus(stale, 409, "Conflict");
      assert.equal(
        stale.body.message,
        'Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again',
      );
      assert.deepEqual(stale.body.details, { name: "settings", kind: "configmaps" });

      const wrongName = await k.raw("PUT", `${path}/settings`, {
        ...replaced.body,
        metadata: { ...replaced.body.metadata, name: "x" },
      });
      assertStatus(wrongName, 400, "BadRequest");
      assert.equal(
        wrongName.body.message,
        "the name of the object (x) does not match the name on the URL (settings)",
      );

      // A ConfigMap may be replaced without a resourceVersion (unconditionally).
      const { resourceVersion: _rv, ...meta } = replaced.body.metadata;
      const unconditional = await k.raw("PUT", `${path}/settings`, {
        ...replaced.body,
        metadata: meta,
        data: { mode: "any" },
      });
      assert.equal(unconditional.status, 200, unconditional.text);

      const missing = await k.raw("GET", `${path}/nope`);
      assertStatus(missing, 404, "NotFound");
      assert.equal(missing.body.message, 'configmaps "nope" not found');
      assert.deepEqual(missing.body.details, { name: "nope", kind: "configmaps" });
      const missingDeployment = await k.raw("GET", `/apis/apps/v1/namespaces/${NS}/deployments/nope`);
      assertStatus(missingDeployment, 404, "NotFound");
      assert.equal(missingDeployment.body.message, 'deployments.apps "nope" not found');
      assert.deepEqual(missingDeployment.body.details, { name: "nope", group: "apps", kind: "deployments" });
      assert.equal(
        await k.client.get({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "nope", namespace: NS },
        }),
        null,
      );
      await assert.rejects(
        k.client.request("GET", `${path}/nope`),
        (err: unknown) =>
          err instanceof KubeApiError && err.status === 404 && err.reason === "NotFound" && !err.transient,
      );

      const deleted = await k.raw("DELETE", `${path}/settings`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        propagationPolicy: "Background",
      });
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(deleted.body.kind, "Status");
      assert.equal(deleted.body.status, "Success");
      assert.deepEqual(deleted.body.details, { name: "settings", kind: "configmaps", uid: cm.metadata.uid });
      assertStatus(await k.raw("DELETE", `${path}/settings`), 404, "NotFound");
      assert.equal(
        await k.client.delete({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "other", namespace: NS },
        }),
        true,
      );
      assert.equal(
        await k.client.delete({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "other", namespace: NS },
        }),
        false,
      );
    });

    it("holds a deletion while finalizers remain; names from generateName; dry runs store nothing", async () => {
      const path = `/api/v1/namespaces/${NS}/configmaps`;
      const held = await k.raw("POST", path, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "held", finalizers: ["krake.test/hold"] },
      });
      assert.equal(held.status, 201, held.text);
      const deleting = await k.raw("DELETE", `${path}/held`);
      assert.equal(deleting.status, 200, deleting.text);
      assert.equal(deleting.body.kind, "ConfigMap", "an object that stays is answered, not a Status");
      assert.ok(deleting.body.metadata.deletionTimestamp);
      assert.equal(deleting.body.metadata.deletionGracePeriodSeconds, 0);
      const still = await k.client.get<any>(configMap("held", NS, {}));
      assert.deepEqual(still.metadata.finalizers, ["krake.test/hold"]);
      const released = await k.raw(
        "PATCH",
        `${path}/held`,
        { metadata: { finalizers: null } },
        "application/merge-patch+json",
      );
      assert.equal(released.status, 200, released.text);
      assert.equal(await k.client.get(configMap("held", NS, {})), null);

      const generated = await k.raw("POST", path, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { generateName: "gen-" },
      });
      assert.equal(generated.status, 201, generated.text);
      assert.match(generated.body.metadata.name, /^gen-[a-z0-9]{5}$/);

      const dry = await k.raw("POST", `${path}?dryRun=All`, configMap("dry", NS, { a: "1" }));
      assert.equal(dry.status, 201, dry.text);
      assert.equal(dry.body.metadata.name, "dry");
      assert.ok(dry.body.metadata.uid);
      assert.equal(dry.body.metadata.resourceVersion, undefined);
      assert.equal(await k.client.get(configMap("dry", NS, {})), null);

      const secret = await k.raw("POST", `/api/v1/namespaces/${NS}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "plain" },
        stringData: { password: "hello" },
      });
      assert.equal(secret.status, 201, secret.text);
      assert.equal(secret.body.type, "Opaque");
      assert.deepEqual(secret.body.data, { password: Buffer.from("hello").toString("base64") });
      assert.equal(secret.body.stringData, undefined);

      // Re-applying stringData stamps the applier's entry anew (stringData never stays in the object), which
      // writes whenever the clock has moved on to another second; re-applying data changes nothing.
      const secretPath = apply(`/api/v1/namespaces/${NS}/secrets/applied`);
      const secretCfg = (body: Record<string, unknown>) => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "applied", namespace: NS },
        ...body,
      });
      const s1 = await k.raw("PATCH", secretPath, secretCfg({ stringData: { a: "hello" } }), APPLY);
      assert.equal(s1.status, 201, s1.text);
      assert.deepEqual(s1.body.data, { a: "aGVsbG8=" });
      assert.deepEqual(s1.body.metadata.managedFields[0].fieldsV1, { "f:stringData": { "f:a": {} } });
      const s2 = await k.raw("PATCH", secretPath, secretCfg({ stringData: { a: "hello" } }), APPLY);
      const stamped = s2.body.metadata.managedFields[0].time !== s1.body.metadata.managedFields[0].time;
      assert.equal(
        Number(s2.body.metadata.resourceVersion) > Number(s1.body.metadata.resourceVersion),
        stamped,
      );
      const s3 = await k.raw("PATCH", secretPath, secretCfg({ data: { a: "aGVsbG8=" } }), APPLY);
      assert.deepEqual(s3.body.metadata.managedFields[0].fieldsV1, { "f:data": { "f:a": {} } });
      const s4 = await k.raw("PATCH", secretPath, secretCfg({ data: { a: "aGVsbG8=" } }), APPLY);
      assert.equal(s4.body.metadata.resourceVersion, s3.body.metadata.resourceVersion);

      // Lists across all namespaces.
      const everywhere = (await k.client.list("v1", "ConfigMap", null)).map(
        (c) => `${c.metadata.namespace}/${c.metadata.name}`,
      );
      assert.ok(everywhere.includes(`${NS}/${generated.body.metadata.name}`));
      const nodes = await k.raw("GET", "/api/v1/nodes");
      assert.equal(nodes.body.kind, "NodeList");
      assert.ok(Array.isArray(nodes.body.items));
    });

    it("defaults workloads: Job parallelism, completions, backoff and selector; StatefulSet and DaemonSet strategies", async () => {
      const template = (labels: Record<string, string>, restartPolicy?: string) => ({
        metadata: { labels },
        spec: {
          ...(restartPolicy ? { restartPolicy } : {}),
          containers: [{ name: "c", image: "busybox:1.33", command: ["true"] }],
        },
      });
      const job = await k.client.apply<any>({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "defaults", namespace: NS },
        spec: { template: template({ app: "job" }, "Never") },
      });
      const uid = job.metadata.uid;
      assert.equal(job.spec.parallelism, 1);
      assert.equal(job.spec.completions, 1);
      assert.equal(job.spec.backoffLimit, 6);
      assert.deepEqual(job.spec.selector, { matchLabels: { "controller-uid": uid } });
      assert.deepEqual(job.spec.template.metadata.labels, {
        app: "job",
        "controller-uid": uid,
        "job-name": "defaults",
      });

      const sts = await k.client.apply<any>({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "defaults", namespace: NS },
        spec: {
          replicas: 0,
          serviceName: "defaults",
          selector: { matchLabels: { app: "sts" } },
          template: template({ app: "sts" }),
        },
      });
      assert.equal(sts.spec.podManagementPolicy, "OrderedReady");
      assert.deepEqual(sts.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { partition: 0 } });
      assert.equal(sts.spec.revisionHistoryLimit, 10);

      const ds = await k.client.apply<any>({
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "defaults", namespace: NS },
        spec: {
          selector: { matchLabels: { app: "ds" } },
          template: {
            ...template({ app: "ds" }),
            spec: { ...template({}).spec, nodeSelector: { "krake.test/nowhere": "true" } },
          },
        },
      });
      assert.deepEqual(ds.spec.updateStrategy, {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 1 },
      });
      assert.equal(ds.spec.template.spec.restartPolicy, "Always");

      for (const obj of [job, sts, ds]) assert.equal(await k.client.delete(obj), true);
    });

    it("validates objects: 422 Invalid with the field causes", async () => {
      const noName = await k.raw("POST", `/api/v1/namespaces/${NS}/configmaps`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {},
      });
      assertStatus(noName, 422, "Invalid");
      assert.equal(
        noName.body.message,
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
      );
      assert.deepEqual(noName.body.details.causes, [
        {
          reason: "FieldValueRequired",
          message: "Required value: name or generateName is required",
          field: "metadata.name",
        },
      ]);

      const badName = await k.raw(
        "POST",
        `/api/v1/namespaces/${NS}/configmaps`,
        configMap("Bad_Name", NS, {}),
      );
      assertStatus(badName, 422, "Invalid");
      assert.match(
        badName.body.message,
        /^ConfigMap "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
      );

      const noPorts = await k.raw("POST", `/api/v1/namespaces/${NS}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "noports" },
        spec: { selector: { app: "x" } },
      });
      assertStatus(noPorts, 422, "Invalid");
      assert.equal(noPorts.body.message, 'Service "noports" is invalid: spec.ports: Required value');
      assert.deepEqual(noPorts.body.details, {
        name: "noports",
        kind: "Service",
        causes: [{ reason: "FieldValueRequired", message: "Required value", field: "spec.ports" }],
      });

      const noPort = await k.raw("POST", `/api/v1/namespaces/${NS}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "noport" },
        spec: { ports: [{ name: "a", protocol: "TCP" }] },
      });
      assertStatus(noPort, 422, "Invalid");
      assert.equal(
        noPort.body.message,
        'Service "noport" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]',
      );

      const d = deployment("mismatch", NS, 1);
      d.spec.template.metadata.labels = { app: "other" };
      const mismatch = await k.raw("POST", `/apis/apps/v1/namespaces/${NS}/deployments`, d);
      assertStatus(mismatch, 422, "Invalid");
      assert.equal(
        mismatch.body.message,
        'Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
      );
      assert.deepEqual(mismatch.body.details.group, "apps");

      const job = await k.raw("POST", `/apis/batch/v1/namespaces/${NS}/jobs`, {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "norestart" },
        spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }] } } },
      });
      assertStatus(job, 422, "Invalid");
      assert.equal(
        job.body.message,
        'Job.batch "norestart" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
      );
    });

    it("refuses updates of what may not change: pod specs, StatefulSet specs, Job templates, selectors", async () => {
      const pod = await k.raw("POST", `/api/v1/namespaces/${NS}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "fixed" },
        spec: {
          nodeSelector: { "krake.test/nowhere": "true" },
          containers: [{ name: "c", image: "busybox:1.33" }],
        },
      });
      assert.equal(pod.status, 201, pod.text);
      const env = await k.raw(
        "PATCH",
        `/api/v1/namespaces/${NS}/pods/fixed`,
        { spec: { containers: [{ name: "c", env: [{ name: "A", value: "1" }] }] } },
        "application/strategic-merge-patch+json",
      );
      assertStatus(env, 422, "Invalid");
      assert.ok(
        env.body.message.startsWith(
          'Pod "fixed" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds` or `spec.tolerations` (only additions to existing tolerations)',
        ),
        env.body.message,
      );
      assert.equal(env.body.details.causes[0].field, "spec");
      const image = await k.raw(
        "PATCH",
        `/api/v1/namespaces/${NS}/pods/fixed`,
        { spec: { containers: [{ name: "c", image: "busybox:1.34" }] } },
        "application/strategic-merge-patch+json",
      );
      assert.equal(image.status, 200, image.text);
      assert.equal(image.body.spec.containers[0].image, "busybox:1.34");
      await k.raw("DELETE", `/api/v1/namespaces/${NS}/pods/fixed`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: 0,
      });

      const sts = await k.raw("POST", `/apis/apps/v1/namespaces/${NS}/statefulsets`, {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "fixed" },
        spec: {
          replicas: 0,
          serviceName: "fixed",
          selector: { matchLabels: { app: "fixed" } },
          template: {
            metadata: { labels: { app: "fixed" } },
            spec: { containers: [{ name: "c", image: "x" }] },
          },
        },
      });
      assert.equal(sts.status, 201, sts.text);
      const serviceName = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/statefulsets/fixed`,
        { spec: { serviceName: "other" } },
        "application/merge-patch+json",
      );
      assertStatus(serviceName, 422, "Invalid");
      assert.equal(
        serviceName.body.message,
        "StatefulSet.apps \"fixed\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'template', and 'updateStrategy' are forbidden",
      );
      const strategy = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/statefulsets/fixed`,
        { spec: { updateStrategy: { type: "OnDelete" } } },
        "application/merge-patch+json",
      );
      assertStatus(strategy, 422, "Invalid");
      assert.equal(
        strategy.body.message,
        "StatefulSet.apps \"fixed\" is invalid: spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:0}: only allowed for updateStrategy 'RollingUpdate'",
      );
      const replicas = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/statefulsets/fixed`,
        { spec: { replicas: 0, updateStrategy: { type: "OnDelete", rollingUpdate: null } } },
        "application/merge-patch+json",
      );
      assert.equal(replicas.status, 200, replicas.text);

      const job = await k.raw("POST", `/apis/batch/v1/namespaces/${NS}/jobs`, {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "fixed" },
        spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x" }] } } },
      });
      assert.equal(job.status, 201, job.text);
      const template = await k.raw(
        "PATCH",
        `/apis/batch/v1/namespaces/${NS}/jobs/fixed`,
        { spec: { template: { spec: { containers: [{ name: "c", image: "y" }] } } } },
        "application/strategic-merge-patch+json",
      );
      assertStatus(template, 422, "Invalid");
      assert.match(
        template.body.message,
        /^Job\.batch "fixed" is invalid: spec\.template: Invalid value: core\.PodTemplateSpec\{.*: field is immutable$/s,
      );

      const d = await k.client.apply<any>(deployment("fixed", NS, 0));
      const selector = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/deployments/fixed`,
        {
          spec: {
            selector: { matchLabels: { app: "zz" } },
            template: { metadata: { labels: { app: "zz" } } },
          },
        },
        "application/merge-patch+json",
      );
      assertStatus(selector, 422, "Invalid");
      const recreate = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/deployments/fixed`,
        { spec: { strategy: { type: "Recreate" } } },
        "application/merge-patch+json",
      );
      assertStatus(recreate, 422, "Invalid");
      assert.equal(
        recreate.body.message,
        "Deployment.apps \"fixed\" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
      );
      assert.equal(
        selector.body.message,
        'Deployment.apps "fixed" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"zz"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
      );
      for (const obj of [
        d,
        { apiVersion: "batch/v1", kind: "Job", metadata: { name: "fixed", namespace: NS } },
        { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "fixed", namespace: NS } },
      ])
        assert.equal(await k.client.delete(obj), true);
    });

    it("patches with JSON merge patch, strategic merge patch (lists by merge key) and JSON patch", async () => {
      const path = `/apis/apps/v1/namespaces/${NS}/deployments/patched`;
      const created = await k.raw(
        "POST",
        `/apis/apps/v1/namespaces/${NS}/deployments`,
        deployment("patched", NS, 0),
      );
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.metadata.generation, 1);

      const sidecar = {
        spec: { template: { spec: { containers: [{ name: "sidecar", image: "busybox" }] } } },
      };
      const strategic = await k.raw("PATCH", path, sidecar, "application/strategic-merge-patch+json");
      assert.equal(strategic.status, 200, strategic.text);
      assert.deepEqual(strategic.body.spec.template.spec.containers.map((c: any) => c.name).sort(), [
        "sidecar",
        "web",
      ]);
      const side = strategic.body.spec.template.spec.containers.find((c: any) => c.name === "sidecar");
      assert.equal(side.imagePullPolicy, "Always", "defaulted: no tag");
      assert.equal(side.terminationMessagePath, "/dev/termination-log");
      assert.equal(strategic.body.metadata.generation, 2);

      const labels = await k.raw(
        "PATCH",
        path,
        { metadata: { labels: { a: "1", b: "2" } } },
        "application/merge-patch+json",
      );
      assert.deepEqual(labels.body.metadata.labels, { a: "1", b: "2" });
      assert.equal(labels.body.metadata.generation, 2, "metadata changes do not bump the generation");
      const dropped = await k.raw(
        "PATCH",
        path,
        { metadata: { labels: { a: null } } },
        "application/merge-patch+json",
      );
      assert.deepEqual(dropped.body.metadata.labels, { b: "2" });

      const merge = await k.raw("PATCH", path, sidecar, "application/merge-patch+json");
      assert.deepEqual(
        merge.body.spec.template.spec.containers.map((c: any) => c.name),
        ["sidecar"],
        "merge patch replaces lists",
      );

      const json = await k.raw(
        "PATCH",
        path,
        [
          { op: "test", path: "/spec/replicas", value: 0 },
          { op: "replace", path: "/spec/replicas", value: 0 },
          { op: "add", path: "/metadata/annotations", value: { note: "json" } },
        ],
        "application/json-patch+json",
      );
      assert.equal(json.status, 200, json.text);
      assert.equal(json.body.metadata.annotations.note, "json");
      const failedTest = await k.raw(
        "PATCH",
        path,
        [{ op: "test", path: "/spec/replicas", value: 5 }],
        "application/json-patch+json",
      );
      assertStatus(failedTest, 422, "Invalid");

      const staleRv = await k.raw(
        "PATCH",
        path,
        { metadata: { resourceVersion: "1" }, spec: { replicas: 0 } },
        "application/merge-patch+json",
      );
      assertStatus(staleRv, 409, "Conflict");

      const unknownType = await k.raw("PATCH", path, "{}", "text/plain");
      assert.equal(unknownType.status, 415, unknownType.text);
      assert.equal(unknownType.body.reason, "UnsupportedMediaType");

      const forceOnMerge = await k.raw("PATCH", `${path}?force=true`, {}, "application/merge-patch+json");
      assertStatus(forceOnMerge, 422, "Invalid");
      assert.equal(
        forceOnMerge.body.message,
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
      );

      const notFound = await k.raw(
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/deployments/zz`,
        {},
        "application/merge-patch+json",
      );
      assertStatus(notFound, 404, "NotFound");
      assert.equal(notFound.body.message, 'deployments.apps "zz" not found');
    });

    it("server-side applies: creates, re-applies without a change, removes dropped fields, owns fields per manager", async () => {
      const path = `/api/v1/namespaces/${NS}/configmaps/applied`;
      const cfg = (data: Record<string, string>, labels?: Record<string, string>) =>
        configMap("applied", NS, data, labels);

      const created = await k.raw(
        "PATCH",
        apply(path),
        cfg({ mode: "fast", size: "1" }, { owner: "krake" }),
        APPLY,
      );
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.data, { mode: "fast", size: "1" });
      assert.deepEqual(managers(created.body), ["krake/Apply"]);
      assert.deepEqual(created.body.metadata.managedFields[0].fieldsV1, {
        "f:data": { "f:mode": {}, "f:size": {} },
        "f:metadata": { "f:labels": { "f:owner": {} } },
      });
      assert.equal(created.body.metadata.managedFields[0].apiVersion, "v1");
      assert.equal(created.body.metadata.managedFields[0].fieldsType, "FieldsV1");

      // The same configuration again: nothing changes, not even the resourceVersion.
      const same = await k.raw(
        "PATCH",
        apply(path),
        cfg({ mode: "fast", size: "1" }, { owner: "krake" }),
        APPLY,
      );
      assert.equal(same.status, 200, same.text);
      assert.equal(same.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
      assert.deepEqual(same.body.metadata.managedFields, created.body.metadata.managedFields);

      // KubeClient.apply (JSON body, force) and a YAML body behave alike.
      const viaClient = await k.client.apply<any>(cfg({ mode: "fast", size: "1" }, { owner: "krake" }));
      assert.equal(viaClient.metadata.resourceVersion, created.body.metadata.resourceVersion);
      const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: ${NS}\n  labels:\n    owner: krake\ndata:\n  mode: "fast"\n  size: "1"\n`;
      const viaYaml = await k.raw("PATCH", apply(path), yaml, APPLY);
      assert.equal(viaYaml.status, 200, viaYaml.text);
      assert.equal(viaYaml.body.metadata.resourceVersion, created.body.metadata.resourceVersion);

      // Fields the manager no longer applies go; a map left empty goes with them.
      const fewer = await k.raw("PATCH", apply(path), cfg({ mode: "fast" }), APPLY);
      assert.equal(fewer.status, 200, fewer.text);
      assert.deepEqual(fewer.body.data, { mode: "fast" });
      assert.equal(fewer.body.metadata.labels, undefined);
      assert.ok(Number(fewer.body.metadata.resourceVersion) > Number(created.body.metadata.resourceVersion));

      // Another applier setting the same value shares it; setting another value conflicts.
      const shared = await k.raw("PATCH", apply(path, "sharer"), cfg({ mode: "fast" }), APPLY);
      assert.equal(shared.status, 200, shared.text);
      assert.deepEqual(managers(shared.body).sort(), ["krake/Apply", "sharer/Apply"]);
      const conflict = await k.raw("PATCH", apply(path, "someone-else"), cfg({ mode: "other" }), APPLY);
      assertStatus(conflict, 409, "Conflict");
      assert.equal(
        conflict.body.message,
        'Apply failed with 2 conflicts: conflicts with "krake":\n- .data.mode\nconflicts with "sharer":\n- .data.mode',
      );
      // The causes come in no particular order (a Go map's).
      assert.deepEqual(Object.keys(conflict.body.details), ["causes"]);
      assert.deepEqual(
        conflict.body.details.causes.sort((a: any, b: any) => a.message.localeCompare(b.message)),
        [
          { reason: "FieldManagerConflict", message: 'conflict with "krake"', field: ".data.mode" },
          { reason: "FieldManagerConflict", message: 'conflict with "sharer"', field: ".data.mode" },
        ],
      );
      const forced = await k.raw("PATCH", apply(path, "someone-else", true), cfg({ mode: "other" }), APPLY);
      assert.equal(forced.status, 200, forced.text);
      assert.equal(forced.body.data.mode, "other");
      // The forcing manager took the field: the others' entries, now empty, are gone.
      assert.deepEqual(managers(forced.body), ["someone-else/Apply"]);

      // An update (merge patch) by another manager takes the fields it changes; applying them back conflicts.
      const edited = await k.raw(
        "PATCH",
        `${path}?fieldManager=editor`,
        { data: { mode: "edited", extra: "x" } },
        "application/merge-patch+json",
      );
      assert.equal(edited.status, 200, edited.text);
      assert.deepEqual(managers(edited.body), ["editor/Update"]);
      const back = await k.raw("PATCH", apply(path, "someone-else"), cfg({ mode: "other" }), APPLY);
      assertStatus(back, 409, "Conflict");
      assert.equal(
        back.body.message,
        'Apply failed with 1 conflict: conflict with "editor" using v1: .data.mode',
      );

      const noManager = await k.raw("PATCH", path, cfg({ mode: "x" }), APPLY);
      assertStatus(noManager, 422, "Invalid");
      assert.equal(
        noManager.body.message,
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    });

    it("server-side applies a Deployment: defaults, generation, dropped fields come back as defaults", async () => {
      const d = deployment("applied", NS, 0);
      const first = await k.client.apply<any>(d);
      assert.equal(first.metadata.generation, 1);
      const spec = first.spec;
      assert.equal(spec.replicas, 0);
      assert.deepEqual(spec.strategy, {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
      });
      assert.equal(spec.revisionHistoryLimit, 10);
      assert.equal(spec.progressDeadlineSeconds, 600);
      const pod = spec.template.spec;
      assert.equal(pod.restartPolicy, "Always");
      assert.equal(pod.dnsPolicy, "ClusterFirst");
      assert.equal(pod.terminationGracePeriodSeconds, 30);
      assert.equal(pod.schedulerName, "default-scheduler");
      assert.equal(pod.containers[0].imagePullPolicy, "IfNotPresent");
      assert.deepEqual(pod.containers[0].ports, [{ containerPort: 80, protocol: "TCP" }]);
      assert.deepEqual(
        first.metadata.managedFields[0].fieldsV1["f:spec"]["f:template"]["f:spec"]["f:containers"][
          'k:{"name":"web"}'
        ]["f:ports"],
        {
          'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} },
        },
      );

      // The deployment controller writes status and a revision annotation; once it is done, a re-apply is a no-op.
      const settled = target.controllers
        ? await until("the Deployment to settle", async () => {
            const cur = await k.client.get<any>(d);
            const done = cur.status?.conditions?.some(
              (c: any) => c.type === "Progressing" && c.reason === "NewReplicaSetAvailable",
            );
            return cur.status?.observedGeneration === 1 && done ? cur : undefined;
          })
        : first;
      const again = await k.client.apply<any>(d);
      assert.equal(
        again.metadata.resourceVersion,
        settled.metadata.resourceVersion,
        "re-applying changes nothing",
      );
      assert.deepEqual(again.metadata.managedFields, settled.metadata.managedFields);

      const changed = await k.client.apply<any>(deployment("applied", NS, 0, "nginx:1.20"));
      assert.equal(changed.metadata.generation, 2);
      assert.equal(changed.spec.template.spec.containers[0].image, "nginx:1.20");

      // Dropping replicas from the configuration: the field goes and the default comes back.
      const withoutReplicas: any = deployment("applied", NS, 0, "nginx:1.20");
      delete withoutReplicas.spec.replicas;
      const defaulted = await k.client.apply<any>(withoutReplicas);
      assert.equal(defaulted.spec.replicas, 1);
      assert.equal(defaulted.metadata.generation, 3);
      await k.client.delete(d);
    });

    it("defaults Services: cluster IP, type, protocol, targetPort, node ports; SSA needs each port's protocol", async () => {
      const svc = (name: string, type: string, ports: any[]) => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: NS },
        spec: { type, selector: { app: name }, ports },
      });
      const ip = await k.client.apply<any>(
        svc("plain", "ClusterIP", [{ name: "http", port: 80, protocol: "TCP" }]),
      );
      assert.match(ip.spec.clusterIP, /^\d+\.\d+\.\d+\.\d+$/);
      assert.deepEqual(ip.spec.clusterIPs, [ip.spec.clusterIP]);
      assert.equal(ip.spec.sessionAffinity, "None");
      assert.deepEqual(ip.spec.ports, [{ name: "http", protocol: "TCP", port: 80, targetPort: 80 }]);
      assert.deepEqual(ip.status, { loadBalancer: {} });

      const np = await k.client.apply<any>(
        svc("nodeport", "NodePort", [{ port: 8080, targetPort: 80, protocol: "TCP" }]),
      );
      const nodePort = np.spec.ports[0].nodePort;
      assert.ok(nodePort >= 30000 && nodePort <= 32767, `nodePort ${nodePort}`);
      assert.equal(np.spec.externalTrafficPolicy, "Cluster");
      const npAgain = await k.client.apply<any>(
        svc("nodeport", "NodePort", [{ port: 8080, targetPort: 80, protocol: "TCP" }]),
      );
      assert.equal(npAgain.metadata.resourceVersion, np.metadata.resourceVersion);
      assert.equal(npAgain.spec.ports[0].nodePort, nodePort);
      assert.equal(npAgain.spec.clusterIP, np.spec.clusterIP);

      const lb = await k.client.apply<any>(svc("balanced", "LoadBalancer", [{ port: 443, protocol: "TCP" }]));
      assert.ok(lb.spec.ports[0].nodePort >= 30000);
      assert.equal(lb.spec.type, "LoadBalancer");

      // Back to ClusterIP: the allocated node port goes with the type; choosing one then is refused.
      const back = await k.client.apply<any>(svc("balanced", "ClusterIP", [{ port: 443, protocol: "TCP" }]));
      assert.equal(back.spec.type, "ClusterIP");
      assert.equal(back.spec.ports[0].nodePort, undefined);
      assert.equal(back.spec.externalTrafficPolicy, undefined);
      assert.equal(back.spec.clusterIP, lb.spec.clusterIP);
      const toNodePort = await k.raw(
        "PATCH",
        `/api/v1/namespaces/${NS}/services/nodeport`,
        [
          { op: "replace", path: "/spec/type", value: "ClusterIP" },
          { op: "replace", path: "/spec/ports/0/nodePort", value: nodePort === 30999 ? 30998 : 30999 },
        ],
        "application/json-patch+json",
      );
      assertStatus(toNodePort, 422, "Invalid");
      assert.equal(
        toNodePort.body.message,
        "Service \"nodeport\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
      );

      // kube-apiserver 1.20 cannot build the typed apply patch of a Service port without a protocol (a 500).
      const noProtocol = await k.raw(
        "PATCH",
        apply(`/api/v1/namespaces/${NS}/services/noprotocol`),
        svc("noprotocol", "ClusterIP", [{ port: 80 }]),
        APPLY,
      );
      assert.equal(noProtocol.status, 500, noProtocol.text);
      assert.equal(noProtocol.body.kind, "Status");
      assert.equal(
        noProtocol.body.message,
        'failed to create typed patch object: .spec.ports: element 0: associative list with keys has an element that omits key field "protocol" (and doesn\'t have default value)',
      );
      // A plain create defaults it.
      const created = await k.raw(
        "POST",
        `/api/v1/namespaces/${NS}/services`,
        svc("noprotocol", "ClusterIP", [{ port: 80 }]),
      );
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.spec.ports[0].protocol, "TCP");

      for (const name of ["plain", "nodeport", "balanced", "noprotocol"])
        assert.equal(
          await k.client.delete({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS } }),
          true,
        );
    });

    it("prints Tables for kubectl (server-side columns) and plain JSON for everyone else", async () => {
      const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
      await k.client.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "printed", namespace: NS },
        spec: { selector: { app: "printed" }, ports: [{ port: 80, protocol: "TCP" }] },
      });
      const visible = (t: any) =>
        t.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name);
      const services = await k.raw("GET", `/api/v1/namespaces/${NS}/services`, undefined, undefined, undefined, TABLE);
      assert.equal(services.status, 200, services.text);
      assert.equal(services.body.kind, "Table");
      assert.equal(services.body.apiVersion, "meta.k8s.io/v1");
      assert.deepEqual(visible(services.body), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]);
      const row = services.body.rows.find((r: any) => r.cells[0] === "printed");
      assert.deepEqual(row.cells.slice(1, 5), ["ClusterIP", row.cells[2], "<none>", "80/TCP"]);
      assert.match(row.cells[2], /^\d+\.\d+\.\d+\.\d+$/);
      assert.equal(row.object.kind, "PartialObjectMetadata");
      assert.equal(row.object.metadata.name, "printed");
      const one = await k.raw("GET", `/api/v1/namespaces/${NS}`, undefined, undefined, undefined, TABLE);
      assert.deepEqual(visible(one.body), ["Name", "Status", "Age"]);
      assert.deepEqual(one.body.rows[0].cells.slice(0, 2), [NS, "Active"]);
      const plain = await k.raw("GET", `/api/v1/namespaces/${NS}/services`);
      assert.equal(plain.body.kind, "ServiceList");
    });

    it("serves a CRD's custom objects: discovery, apply, schema validation and pruning, list, delete", async () => {
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "gadgets.conformance.krake.test" },
        spec: {
          group: "conformance.krake.test",
          scope: "Namespaced",
          names: {
            plural: "gadgets",
            singular: "gadget",
            kind: "Gadget",
            listKind: "GadgetList",
            shortNames: ["gd"],
          },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: {
                      type: "object",
                      required: ["size"],
                      properties: {
                        size: { type: "integer", minimum: 1 },
                        color: { type: "string", enum: ["red", "blue"] },
                        tags: { type: "array", items: { type: "string" } },
                      },
                    },
                    status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  },
                },
              },
            },
          ],
        },
      };
      const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
      assertStatus(await k.raw("GET", `${crdPath}/gadgets.conformance.krake.test`), 404, "NotFound");
      const created = await k.raw("POST", crdPath, crd);
      assert.equal(created.status, 201, created.text);
      const established = await until("the CRD to be Established", async () => {
        const res = await k.raw("GET", `${crdPath}/gadgets.conformance.krake.test`);
        const cond = (res.body?.status?.conditions ?? []).find((c: any) => c.type === "Established");
        return cond?.status === "True" ? res.body : undefined;
      });
      assert.deepEqual(established.status.acceptedNames.kind, "Gadget");
      assert.deepEqual(established.status.storedVersions, ["v1"]);

      const discovery = await until("the group version in discovery", async () => {
        const res = await k.raw("GET", "/apis/conformance.krake.test/v1");
        return res.status === 200 ? res.body : undefined;
      });
      const gadgets = discovery.resources.find((r: any) => r.name === "gadgets");
      assert.deepEqual(
        {
          kind: gadgets.kind,
          namespaced: gadgets.namespaced,
          singularName: gadgets.singularName,
          shortNames: gadgets.shortNames,
        },
        { kind: "Gadget", namespaced: true, singularName: "gadget", shortNames: ["gd"] },
      );
      assert.ok(discovery.resources.some((r: any) => r.name === "gadgets/status"));
      const group = (await k.raw("GET", "/apis")).body.groups.find(
        (g: any) => g.name === "conformance.krake.test",
      );
      assert.deepEqual(group?.preferredVersion, { groupVersion: "conformance.krake.test/v1", version: "v1" });

      const gadget = (name: string, spec: Record<string, unknown>, labels?: Record<string, string>) => ({
        apiVersion: "conformance.krake.test/v1",
        kind: "Gadget",
        metadata: { name, namespace: NS, ...(labels ? { labels } : {}) },
        spec,
      });
      // Discovery and the custom resource handler can lag the Established condition by a moment.
      const applied = await until("the first Gadget to be applied", async () => {
        try {
          return await k.client.apply<any>(gadget("g1", { size: 3, color: "blue" }, { app: "gadgets" }));
        } catch (err) {
          if ((err instanceof KubeApiError && err.status === 404) || err instanceof UnknownKindError)
            return undefined;
          throw err;
        }
      });
      assert.deepEqual(applied.spec, { size: 3, color: "blue" });
      assert.equal(applied.metadata.generation, 1);
      assert.deepEqual(managers(applied), ["krake/Apply"]);
      const again = await k.client.apply<any>(gadget("g1", { size: 3, color: "blue" }, { app: "gadgets" }));
      assert.equal(again.metadata.resourceVersion, applied.metadata.resourceVersion);

      const invalidGadget = await k.raw(
        "POST",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets`,
        gadget("bad", { size: 0, color: "green" }),
      );
      assertStatus(invalidGadget, 422, "Invalid");
      // The schema validator reports in no fixed order (it walks a Go map): compare the causes as a set.
      const causes = (reply: Reply) =>
        reply.body.details.causes.map((c: any) => `${c.field}: ${c.message}`).sort();
      assert.deepEqual(causes(invalidGadget), [
        'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
      ]);
      assert.equal(
        invalidGadget.body.message,
        `Gadget.conformance.krake.test "bad" is invalid: [${invalidGadget.body.details.causes.map((c: any) => `${c.field}: ${c.message}`).join(", ")}]`,
      );
      assert.equal(invalidGadget.body.details.kind, "Gadget");
      assert.equal(invalidGadget.body.details.group, "conformance.krake.test");
      const typeError = await k.raw(
        "POST",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets`,
        gadget("bad", { tags: "x" }),
      );
      assertStatus(typeError, 422, "Invalid");
      assert.deepEqual(causes(typeError), [
        "spec.size: Required value",
        'spec.tags: Invalid value: "string": spec.tags in body must be of type array: "string"',
      ]);

      // A create prunes fields the schema does not declare; an apply cannot even type them.
      const pruned = await k.raw("POST", `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets`, {
        ...gadget("g2", { size: 1, unknown: "x" }),
        extra: true,
      });
      assert.equal(pruned.status, 201, pruned.text);
      assert.deepEqual(pruned.body.spec, { size: 1 });
      assert.equal(pruned.body.extra, undefined);
      const undeclared = await k.raw(
        "PATCH",
        apply(`/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g1`),
        gadget("g1", { size: 3, color: "blue", unknown: "x" }),
        APPLY,
      );
      assert.equal(undeclared.status, 500, undeclared.text);
      assert.equal(
        undeclared.body.message,
        "failed to create typed patch object: .spec.unknown: field not declared in schema",
      );
      const list = await k.raw("GET", `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets`);
      assert.equal(list.body.kind, "GadgetList");
      assert.deepEqual(
        list.body.items.map((g: any) => `${g.kind}/${g.metadata.name}`),
        ["Gadget/g1", "Gadget/g2"],
      );
      const selected = await k.client.list("conformance.krake.test/v1", "Gadget", NS);
      assert.equal(selected.length, 2);
      const labelled = await k.raw(
        "GET",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets?labelSelector=app%3Dgadgets`,
      );
      assert.deepEqual(
        labelled.body.items.map((g: any) => g.metadata.name),
        ["g1"],
      );

      // With a status subresource, status changes only through /status (and does not bump the generation).
      const withStatus = await k.raw(
        "PATCH",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g1/status`,
        { status: { phase: "Ready" }, spec: { size: 9 } },
        "application/merge-patch+json",
      );
      assert.equal(withStatus.status, 200, withStatus.text);
      assert.deepEqual(withStatus.body.status, { phase: "Ready" });
      assert.equal(withStatus.body.spec.size, 3, "the spec does not change through /status");
      assert.equal(withStatus.body.metadata.generation, 1);
      const ignored = await k.raw(
        "PATCH",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g1`,
        { status: { phase: "Gone" } },
        "application/merge-patch+json",
      );
      assert.deepEqual(ignored.body.status, { phase: "Ready" }, "the main resource ignores status");
      assert.equal(ignored.body.metadata.resourceVersion, withStatus.body.metadata.resourceVersion);

      // Custom objects cannot be replaced without a resourceVersion, nor patched strategically.
      const { resourceVersion: _rv, ...meta } = applied.metadata;
      const unconditional = await k.raw(
        "PUT",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g1`,
        { ...applied, metadata: meta },
      );
      assertStatus(unconditional, 422, "Invalid");
      assert.equal(
        unconditional.body.message,
        'gadgets.conformance.krake.test "g1" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      );
      const smp = await k.raw(
        "PATCH",
        `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g1`,
        { spec: { size: 2 } },
        "application/strategic-merge-patch+json",
      );
      assert.equal(smp.status, 415, smp.text);

      const removed = await k.raw("DELETE", `/apis/conformance.krake.test/v1/namespaces/${NS}/gadgets/g2`);
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual(removed.body.details, {
        name: "g2",
        group: "conformance.krake.test",
        kind: "gadgets",
        uid: removed.body.details.uid,
      });
      assert.equal(await k.client.delete(gadget("g1", {})), true);
      assert.equal(await k.client.get(gadget("g1", {})), null);
      const crdGone = await k.raw("DELETE", `${crdPath}/gadgets.conformance.krake.test`);
      assert.equal(crdGone.status, 200, crdGone.text);
      assert.equal(crdGone.body.kind, "CustomResourceDefinition");
    });

    it("creates bare Pods Pending, with their QoS class, and deletes an unscheduled one at once", async () => {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "bare", namespace: NS },
        spec: {
          containers: [
            { name: "c", image: "busybox:1.33", resources: { limits: { cpu: "100m", memory: "64Mi" } } },
          ],
        },
      };
      const created = await k.raw("POST", `/api/v1/namespaces/${NS}/pods`, pod);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.status.phase, "Pending");
      assert.equal(created.body.status.qosClass, "Guaranteed");
      assert.deepEqual(
        created.body.spec.containers[0].resources.requests,
        { cpu: "100m", memory: "64Mi" },
        "requests default to limits",
      );
      assert.equal(created.body.spec.enableServiceLinks, true);
      const unscheduled = {
        ...pod,
        metadata: { name: "unscheduled", namespace: NS },
        spec: { ...pod.spec, nodeSelector: { "krake.test/nowhere": "true" } },
      };
      const second = await k.raw("POST", `/api/v1/namespaces/${NS}/pods`, unscheduled);
      assert.equal(second.status, 201, second.text);
      const deleted = await k.raw("DELETE", `/api/v1/namespaces/${NS}/pods/unscheduled`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: 0,
      });
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(deleted.body.kind, "Pod", "pods answer a delete with the pod");
      assert.ok(deleted.body.metadata.deletionTimestamp);
      assert.equal(
        await k.client.get({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "unscheduled", namespace: NS },
        }),
        null,
      );
      await k.raw("DELETE", `/api/v1/namespaces/${NS}/pods/bare`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: 0,
      });
    });

    it("watches from a resourceVersion: ADDED, MODIFIED, DELETED in order, filtered by label", async () => {
      const path = `/api/v1/namespaces/${NS}/configmaps`;
      const list = await k.raw("GET", path);
      const rv = list.body.metadata.resourceVersion;
      const w = k.watch(`${path}?watch=1&resourceVersion=${rv}&labelSelector=watched%3Dyes`);
      try {
        await k.raw("POST", path, configMap("ignored", NS, { a: "1" }, { watched: "no" }));
        const created = await k.raw("POST", path, configMap("watched", NS, { a: "1" }, { watched: "yes" }));
        const patched = await k.raw(
          "PATCH",
          `${path}/watched`,
          { data: { a: "2" } },
          "application/merge-patch+json",
        );
        // Changes of objects outside the selector are not seen.
        await k.raw("PATCH", `${path}/ignored`, { data: { a: "2" } }, "application/merge-patch+json");
        await k.raw("DELETE", `${path}/watched`);
        await w.next("the DELETED event", (e) => e.type === "DELETED");
        assert.deepEqual(
          w.events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.data?.a}`),
          ["ADDED watched 1", "MODIFIED watched 2", "DELETED watched 2"],
        );
        assert.equal(w.events[0].object.kind, "ConfigMap");
        assert.equal(w.events[0].object.metadata.resourceVersion, created.body.metadata.resourceVersion);
        assert.equal(w.events[1].object.metadata.resourceVersion, patched.body.metadata.resourceVersion);
        const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
        assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `increasing resourceVersions ${rvs}`);
      } finally {
        await w.stop();
      }
      // Without a resourceVersion a watch starts with the current objects.
      const initial = k.watch(`${path}?watch=true&fieldSelector=metadata.name%3Dignored`);
      try {
        const first = await initial.next("the current object", (e) => e.type === "ADDED");
        assert.equal(first.object.metadata.name, "ignored");
        await k.raw("DELETE", `${path}/ignored`);
        await initial.next("its deletion", (e) => e.type === "DELETED");
        assert.deepEqual(
          initial.events.map((e) => e.type),
          ["ADDED", "DELETED"],
        );
      } finally {
        await initial.stop();
      }
    });

    it("turns a Deployment into a ReplicaSet and Pods, counts them in its status, deletes them in the background", async (t) => {
      if (!target.controllers) {
        t.skip("no controllers run on this target");
        return;
      }
      const d = await k.client.apply<any>(deployment("workload", NS, 2));
      const uid = d.metadata.uid;
      const rs = await until("a ReplicaSet owned by the Deployment", async () => {
        const list = await k.client.list<any>("apps/v1", "ReplicaSet", NS);
        return list.find((r) => r.metadata.ownerReferences?.some((o: any) => o.uid === uid));
      });
      const owner = rs.metadata.ownerReferences[0];
      assert.deepEqual(owner, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "workload",
        uid,
        controller: true,
        blockOwnerDeletion: true,
      });
      const hash = rs.metadata.labels["pod-template-hash"];
      assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
      assert.equal(rs.metadata.name, `workload-${hash}`);
      assert.equal(rs.spec.replicas, 2);
      assert.deepEqual(rs.spec.selector.matchLabels, { app: "workload", "pod-template-hash": hash });
      assert.equal(rs.metadata.annotations["deployment.kubernetes.io/revision"], "1");

      const pods = await until("two Pods owned by the ReplicaSet", async () => {
        const res = await k.raw("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dworkload`);
        const owned = res.body.items.filter((p: any) =>
          p.metadata.ownerReferences?.some((o: any) => o.uid === rs.metadata.uid),
        );
        return owned.length === 2 ? owned : undefined;
      });
      for (const p of pods) {
        assert.ok(p.metadata.name.startsWith(`workload-${hash}-`), p.metadata.name);
        assert.equal(p.metadata.labels["pod-template-hash"], hash);
        assert.equal(p.spec.containers[0].image, "nginx:1.19");
      }
      const status = await until("the Deployment's status to count two replicas", async () => {
        const cur = await k.client.get<any>(d);
        return cur.status?.replicas === 2 && cur.status?.observedGeneration === 1 ? cur.status : undefined;
      });
      assert.equal(status.updatedReplicas, 2);
      assert.ok(status.conditions.some((c: any) => c.type === "Available"));
      assert.ok(status.conditions.some((c: any) => c.type === "Progressing" && c.status === "True"));

      const deleted = await k.raw("DELETE", `/apis/apps/v1/namespaces/${NS}/deployments/workload`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        propagationPolicy: "Background",
      });
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.body.details, { name: "workload", group: "apps", kind: "deployments", uid });
      await until("the ReplicaSet to be collected", async () =>
        (await k.client.get({
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          metadata: { name: rs.metadata.name, namespace: NS },
        })) === null
          ? true
          : undefined,
      );
      // Pods of a node-less (real) cluster are deleted at once; scheduled ones (simulator) after their grace.
      await until("the Pods to be collected", async () => {
        const res = await k.raw("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dworkload`);
        return res.body.items.every((p: any) => p.metadata.deletionTimestamp) ? true : undefined;
      });
    });

    it("deletes a namespace: Terminating at once, then gone with its objects", async (t) => {
      if (!target.controllers) {
        t.skip("no controllers run on this target");
        return;
      }
      const ns = "conformance-doomed";
      await k.raw("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns },
      });
      await k.client.apply(configMap("inside", ns, { a: "1" }));
      const deleted = await k.raw("DELETE", `/api/v1/namespaces/${ns}`);
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(deleted.body.kind, "Namespace");
      assert.equal(deleted.body.status.phase, "Terminating");
      assert.ok(deleted.body.metadata.deletionTimestamp);
      const refused = await k.raw("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("late", ns, {}));
      if (refused.status !== 404) {
        assertStatus(refused, 403, "Forbidden");
        assert.equal(
          refused.body.message,
          `configmaps "late" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        );
      }
      await until(
        "the namespace to go",
        async () =>
          (await k.client.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })) === null
            ? true
            : undefined,
        60_000,
      );
      assert.equal(await k.client.get(configMap("inside", ns, {})), null);
    });
  });
}
