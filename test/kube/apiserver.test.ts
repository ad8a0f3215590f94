/**
 * The real Kubernetes API server the integration tests run against (test/support/kube-apiserver.ts):
 * Kubernetes v1.20.2 built from Debian's source package, over etcd, with kube-controller-manager.
 *
 * It checks what Krake relies on from a cluster: version discovery, namespaces, server-side apply (with its
 * field ownership and conflicts), CRDs and their custom objects (which crashed the server before the
 * reflect2 fix in scripts/kube/build.sh), and Deployments turning into ReplicaSets and Pods.
 *
 * The first run on a machine builds the binaries (several minutes); KRAKE_SKIP_KUBE=1 skips this file.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { startKubeApiServer, type KubeApiServer } from "../support/kube-apiserver.js";

interface Reply {
  status: number;
  body: any;
  text: string;
}

/** One HTTPS call with the server's CA and admin token; JSON bodies are sent as JSON, strings as is. */
function kube(
  server: KubeApiServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        method,
        ca: server.caPem,
        timeout: 10_000,
        headers: {
          Authorization: `Bearer ${server.token}`,
          Accept: "application/json",
          ...(payload !== undefined
            ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("error", reject);
        res.on("end", () => {
          let parsed: any = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const NS = "krake-it";
const apply = (path: string) => `${path}?fieldManager=krake`;

test(
  "a real kube-apiserver v1.20.2 with kube-controller-manager",
  { timeout: 60 * 60_000 },
  async (t: TestContext) => {
    if (process.env.KRAKE_SKIP_KUBE === "1") {
      t.skip("KRAKE_SKIP_KUBE=1: not starting (or building) the real Kubernetes API server");
      return;
    }
    const started = Date.now();
    const server = await startKubeApiServer({ controllerManager: true });
    t.after(() => server.close());
    const { apiserverReadyMs, controllerManagerReadyMs } = server.timings;
    t.diagnostic(
      `started in ${Date.now() - started} ms: kube-apiserver ready at ${server.url} in ${apiserverReadyMs} ms, ` +
        `kube-controller-manager working ${controllerManagerReadyMs} ms later`,
    );

    await t.test("/version reports Kubernetes 1.20", async () => {
      const res = await kube(server, "GET", "/version");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.major, "1");
      assert.equal(res.body.minor, "20");
      assert.match(res.body.gitVersion, /^v1\.20\./);
      t.diagnostic(`gitVersion ${res.body.gitVersion}, ${res.body.goVersion}`);
    });

    await t.test("the kubeconfig carries the server, the CA and the token", () => {
      const { kubeconfig } = server;
      assert.equal(kubeconfig.clusters[0].cluster.server, server.url);
      assert.equal(
        Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64").toString(),
        server.caPem,
      );
      assert.equal(kubeconfig.users[0].user.token, server.token);
      assert.equal(kubeconfig["current-context"], kubeconfig.contexts[0].name);
    });

    await t.test("refuses requests without the token (RBAC, no anonymous access to the API)", async () => {
      const res = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.url}/api/v1/namespaces`, { ca: server.caPem }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(res, 403);
    });

    await t.test("creates a namespace", async () => {
      const res = await kube(server, "POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.status.phase, "Active");
    });

    await t.test("server-side applies a ConfigMap, owns its fields and reports conflicts", async () => {
      const path = `/api/v1/namespaces/${NS}/configmaps/settings`;
      const yaml = (value: string) =>
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${NS}\ndata:\n  mode: "${value}"\n`;
      const created = await kube(server, "PATCH", apply(path), yaml("fast"), "application/apply-patch+yaml");
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.data.mode, "fast");
      const managers = created.body.metadata.managedFields.map((f: any) => `${f.manager}/${f.operation}`);
      assert.deepEqual(managers, ["krake/Apply"]);

      const updated = await kube(server, "PATCH", apply(path), yaml("safe"), "application/apply-patch+yaml");
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.data.mode, "safe");

      // Another manager setting the same field conflicts unless it forces.
      const other = `${path}?fieldManager=someone-else`;
      const conflict = await kube(server, "PATCH", other, yaml("other"), "application/apply-patch+yaml");
      assert.equal(conflict.status, 409, conflict.text);
      assert.equal(conflict.body.reason, "Conflict");
      const forced = await kube(
        server,
        "PATCH",
        `${other}&force=true`,
        yaml("other"),
        "application/apply-patch+yaml",
      );
      assert.equal(forced.status, 200, forced.text);
      assert.equal(forced.body.data.mode, "other");
    });

    await t.test("serves a CRD and its custom objects (create, apply, list)", async () => {
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "widgets.krake.test" },
        spec: {
          group: "krake.test",
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: {
                      type: "object",
                      properties: { size: { type: "integer", minimum: 1 }, color: { type: "string" } },
                      required: ["size"],
                    },
                  },
                },
              },
            },
          ],
        },
      };
      const created = await kube(
        server,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd,
      );
      assert.equal(created.status, 201, created.text);
      await until("the CRD to be Established", async () => {
        const res = await kube(
          server,
          "GET",
          "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.krake.test",
        );
        const established = (res.body?.status?.conditions ?? []).find((c: any) => c.type === "Established");
        return established?.status === "True" ? true : undefined;
      });
      const widgets = `/apis/krake.test/v1/namespaces/${NS}/widgets`;
      // Discovery may lag the Established condition by a moment: retry the first create on 404.
      const first = await until("the first Widget to be created", async () => {
        const res = await kube(server, "POST", widgets, {
          apiVersion: "krake.test/v1",
          kind: "Widget",
          metadata: { name: "w1", labels: { app: "krake" } },
          spec: { size: 3, color: "blue" },
        });
        return res.status === 404 ? undefined : res;
      });
      assert.equal(first.status, 201, first.text);
      assert.equal(first.body.spec.size, 3);

      // The schema is enforced.
      const invalid = await kube(server, "POST", widgets, {
        apiVersion: "krake.test/v1",
        kind: "Widget",
        metadata: { name: "bad" },
        spec: { size: 0 },
      });
      assert.equal(invalid.status, 422, invalid.text);

      const applied = await kube(
        server,
        "PATCH",
        apply(`${widgets}/w2`),
        { apiVersion: "krake.test/v1", kind: "Widget", metadata: { name: "w2" }, spec: { size: 5 } },
        "application/apply-patch+yaml",
      );
      assert.equal(applied.status, 201, applied.text);
      assert.equal(applied.body.metadata.managedFields[0].manager, "krake");

      const list = await kube(server, "GET", widgets);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.items.map((w: any) => w.metadata.name).sort(), ["w1", "w2"]);
      const selected = await kube(server, "GET", `${widgets}?labelSelector=app%3Dkrake`);
      assert.deepEqual(
        selected.body.items.map((w: any) => w.metadata.name),
        ["w1"],
      );
    });

    await t.test(
      "turns an applied Deployment into a ReplicaSet and Pods (kube-controller-manager)",
      async () => {
        const deployment = {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: NS },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: {
                containers: [
                  {
                    name: "nginx",
                    image: "nginx:1.19",
                    // Server-side apply in 1.20 needs the protocol: it is part of the ports list's merge key.
                    ports: [{ containerPort: 80, protocol: "TCP" }],
                  },
                ],
              },
            },
          },
        };
        const res = await kube(
          server,
          "PATCH",
          apply(`/apis/apps/v1/namespaces/${NS}/deployments/web`),
          deployment,
          "application/apply-patch+yaml",
        );
        assert.equal(res.status, 201, res.text);
        const uid = res.body.metadata.uid;

        const rs = await until("a ReplicaSet owned by the Deployment", async () => {
          const list = await kube(
            server,
            "GET",
            `/apis/apps/v1/namespaces/${NS}/replicasets?labelSelector=app%3Dweb`,
          );
          return list.body.items.find((r: any) =>
            r.metadata.ownerReferences?.some((o: any) => o.uid === uid),
          );
        });
        assert.equal(rs.spec.replicas, 2);
        const pods = await until("two Pods owned by the ReplicaSet", async () => {
          const list = await kube(server, "GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`);
          const owned = list.body.items.filter((p: any) =>
            p.metadata.ownerReferences?.some((o: any) => o.uid === rs.metadata.uid),
          );
          return owned.length === 2 ? owned : undefined;
        });
        // No scheduler and no kubelet: the Pods exist but stay Pending.
        assert.ok(pods.every((p: any) => p.status.phase === "Pending"));
        const status = await until("the Deployment status to count the replicas", async () => {
          const d = await kube(server, "GET", `/apis/apps/v1/namespaces/${NS}/deployments/web`);
          return d.body.status?.replicas === 2 ? d.body.status : undefined;
        });
        assert.equal(status.replicas, 2);
      },
    );
  },
);
