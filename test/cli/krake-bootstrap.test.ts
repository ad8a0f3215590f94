import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runKrake } from "../support/process.js";
import { http, startTestApi, type TestApi } from "../support/api.js";
import { makePki } from "../support/certs.js";

const STATIC_METRICS = fileURLToPath(new URL("../../../support/static_metrics.yaml", import.meta.url));

let api: TestApi;
let dir: string;
before(async () => {
  api = await startTestApi({ bodyLimit: 2048 });
  dir = await mkdtemp(join(tmpdir(), "krake-bootstrap-"));
});
after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

const names = async (path: string) => (await http(api.url, "GET", path)).body.items.map((i: any) => i.metadata.name).sort();

describe("krake bootstrap", () => {
  it("loads the static metrics, and a second run changes nothing", async () => {
    const first = await runKrake(["bootstrap", "--api", api.url, STATIC_METRICS]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /3 created, 0 updated, 0 unchanged/);
    assert.deepEqual(await names("/core/globalmetrics"), ["electricity_cost_1", "green_energy_ratio_1"]);
    assert.deepEqual(await names("/core/globalmetricsproviders"), ["static_provider"]);
    const revision = await api.server.store.revision();
    const second = await runKrake(["bootstrap", "--api", api.url, STATIC_METRICS]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /0 created, 0 updated, 3 unchanged/);
    assert.equal(await api.server.store.revision(), revision, "an idempotent run writes nothing");
  });

  it("--update applies a changed spec", async () => {
    const file = join(dir, "changed.yaml");
    await writeFile(
      file,
      "kind: GlobalMetric\nmetadata: {name: electricity_cost_1}\nspec: {allowed_values: [], min: 0, max: 5, provider: {name: static_provider, metric: electricity_cost_1}}\n",
    );
    const res = await runKrake(["bootstrap", "--api", api.url, "--update", file]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /0 created, 1 updated, 0 unchanged/);
    assert.equal((await http(api.url, "GET", "/core/globalmetrics/electricity_cost_1")).body.spec.max, 5);
  });

  it("validates every document first: one bad document writes nothing and names the field", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      [
        "kind: Role",
        "metadata: {name: ok-role}",
        "rules: []",
        "---",
        "kind: GlobalMetric",
        "metadata: {name: broken}",
        "spec: {min: 0, max: 1, provider: {name: p, metric: m}}",
        "---",
        "kind: Widget",
        "metadata: {name: w}",
      ].join("\n"),
    );
    const before = await api.server.store.revision();
    const res = await runKrake(["bootstrap", "--api", api.url, file]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /nothing was written/);
    assert.match(res.stderr, /document 2 \(GlobalMetric\): spec\.allowed_values: Missing data for required field\./);
    assert.match(res.stderr, /document 3: kind: unknown kind "Widget"/);
    assert.equal(await api.server.store.revision(), before);
  });

  it("rolls back what it created when a later write fails", async () => {
    const file = join(dir, "rollback.yaml");
    await writeFile(
      file,
      [
        "kind: Role",
        "metadata: {name: first-role}",
        "rules: []",
        "---",
        "kind: Role",
        "metadata: {name: too-big}",
        `rules: [{api: "", resources: ["${"x".repeat(4096)}"], namespaces: [""], verbs: [get]}]`,
      ].join("\n"),
    );
    const res = await runKrake(["bootstrap", "--api", api.url, file]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /the 1 object\(s\) created by this run were deleted again/);
    assert.match(res.stderr, /413/);
    assert.equal((await http(api.url, "GET", "/core/roles/first-role")).status, 404, "the first role is gone again");
  });
});

describe("krake bootstrap support/base_roles.yaml", () => {
  it("makes system:admin an administrator once the API switches to RBAC, and nobody else", async () => {
    const roles = fileURLToPath(new URL("../../../support/base_roles.yaml", import.meta.url));
    const loaded = await runKrake(["bootstrap", "--api", api.url, roles]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /18 created/);
    // The same store behind RBAC servers: one that sees every caller as system:admin, one as someone else.
    const asAdmin = await startTestApi({ authorization: "RBAC", staticUser: "system:admin" }, api.server.store);
    const asOther = await startTestApi({ authorization: "RBAC", staticUser: "alice" }, api.server.store);
    try {
      assert.equal((await http(asAdmin.url, "GET", "/kubernetes/clusters")).status, 200, "list across namespaces");
      const created = await http(asAdmin.url, "POST", "/core/roles", {
        api: "core",
        kind: "Role",
        metadata: { name: "made-by-admin" },
        rules: [],
      });
      assert.equal(created.status, 200, created.text);
      assert.equal((await http(asOther.url, "GET", "/kubernetes/namespaces/team-a/clusters")).status, 403);
    } finally {
      await asAdmin.close();
      await asOther.close();
    }
  });
  it("talks TLS with a client certificate: --tls-ca, --tls-cert, --tls-key; without the certificate it is refused", async () => {
    const pki = await makePki();
    const secure = await startTestApi({
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.caCert,
      allowAnonymous: false,
    });
    try {
      const admin = await pki.client("system:admin");
      const ok = await runKrake(["bootstrap", "--api", secure.url, "--tls-ca", pki.caCert, "--tls-cert", admin.cert, "--tls-key", admin.key, STATIC_METRICS]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /3 created/);
      const refused = await runKrake(["bootstrap", "--api", secure.url, "--tls-ca", pki.caCert, STATIC_METRICS]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /401/);
      const half = await runKrake(["bootstrap", "--api", secure.url, "--tls-cert", admin.cert, STATIC_METRICS]);
      assert.equal(half.code, 2);
      assert.match(half.stderr, /--tls-cert and --tls-key must be given together/);
    } finally {
      await secure.close();
      await rm(pki.dir, { recursive: true, force: true });
    }
  });
});
