import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { Cloud, Cluster, GlobalCloud } from "../../src/resources/registry.js";
import { eventually } from "../support/api.js";
import { bodies, clusterTosca, poolTosca } from "../support/fixtures.js";
import { tableRows, useRokApi } from "../support/rok.js";

const NS = "system:admin";

const kubeconfig = {
  apiVersion: "v1",
  kind: "Config",
  preferences: {},
  clusters: [
    {
      name: "cluster-de",
      cluster: { server: "https://10.0.0.1:6443", "certificate-authority": "pki/ca.pem" },
    },
    {
      name: "cluster-sk",
      cluster: { server: "https://10.0.0.2:6443", "certificate-authority-data": "Q0E=" },
    },
  ],
  users: [
    { name: "admin-de", user: { "client-certificate": "pki/admin.pem", "client-key": "/ABS/admin-key.pem" } },
    { name: "admin-sk", user: { token: "sk-token-SECRET" } },
  ],
  contexts: [
    { name: "de", context: { cluster: "cluster-de", user: "admin-de" } },
    { name: "sk", context: { cluster: "cluster-sk", user: "admin-sk", namespace: "apps" } },
  ],
  "current-context": "de",
};

const t = useRokApi(undefined, async () => {
  // File references are relative to the kubeconfig's own directory, or absolute.
  await mkdir(join(t.sb.dir, "kube", "pki"), { recursive: true });
  await writeFile(join(t.sb.dir, "kube", "pki", "ca.pem"), "CA-PEM");
  await writeFile(join(t.sb.dir, "kube", "pki", "admin.pem"), "CERT-PEM");
  await writeFile(join(t.sb.dir, "admin-key.pem"), "KEY-PEM-SECRET");
  const kc = structuredClone(kubeconfig);
  kc.users[0].user["client-key"] = join(t.sb.dir, "admin-key.pem");
  await writeFile(join(t.sb.dir, "kube", "config"), stringify(kc));
  await writeFile(join(t.sb.dir, "im-cluster.yaml"), stringify(clusterTosca()));
  const scaled = clusterTosca();
  scaled.topology_template.inputs.wn_num.default = 3;
  await writeFile(join(t.sb.dir, "scale-up.yaml"), stringify(scaled));
  await writeFile(join(t.sb.dir, "pool.yaml"), stringify(poolTosca(1)));
  await writeFile(join(t.sb.dir, "pool-3.yaml"), stringify(poolTosca(3)));
  await writeFile(join(t.sb.dir, "pool-big.yaml"), stringify(poolTosca(1, 8)));
  await writeFile(
    join(t.sb.dir, "two-docs.yaml"),
    `${stringify(clusterTosca())}---\n${stringify(clusterTosca())}`,
  );
});

const rok = (args: string[]) => t.sb.rok(args);
const json = (s: string) => JSON.parse(s);
const clusters = () => t.api.client.kind(Cluster);
const row = (table: string, name: string) =>
  table
    .split("\n")
    .find((l) => l.startsWith(`| ${name} `))
    ?.split("|")[2]
    ?.trim();

describe("kube cluster register (cli.md §2.2)", () => {
  it("reduces the kubeconfig to the current context, inlines file references, names the cluster after it", async () => {
    const r = await rok([
      "kube",
      "cluster",
      "register",
      "-k",
      "kube/config",
      "-l",
      "location=DE",
      "-R",
      "crontabs.stable.example.com",
      "--metric",
      "heat",
      "2",
      "--global-metric",
      "electricity_cost_1",
      "10",
      "--backoff_limit",
      "3",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.equal(o.metadata.name, "cluster-de");
    assert.deepEqual(o.metadata.labels, { location: "DE" });
    const kc = o.spec.kubeconfig;
    assert.equal(kc["current-context"], "de");
    assert.deepEqual(kc.contexts, [{ name: "de", context: { cluster: "cluster-de", user: "admin-de" } }]);
    assert.deepEqual(kc.clusters, [
      {
        name: "cluster-de",
        cluster: {
          server: "https://10.0.0.1:6443",
          "certificate-authority-data": Buffer.from("CA-PEM").toString("base64"),
        },
      },
    ]);
    assert.deepEqual(kc.users, [
      {
        name: "admin-de",
        user: {
          "client-certificate-data": Buffer.from("CERT-PEM").toString("base64"),
          "client-key-data": Buffer.from("KEY-PEM-SECRET").toString("base64"),
        },
      },
    ]);
    assert.deepEqual(o.spec.custom_resources, ["crontabs.stable.example.com"]);
    assert.deepEqual(o.spec.metrics, [
      { name: "heat", weight: 2, namespaced: true },
      { name: "electricity_cost_1", weight: 10, namespaced: false },
    ]);
    assert.deepEqual(o.spec.constraints, { cloud: { labels: [], metrics: [] } });
    assert.equal(o.spec.backoff_limit, 3);
  });

  it("-c picks another context; the table never shows kubeconfig credentials", async () => {
    const r = await rok([
      "kube",
      "cluster",
      "register",
      "-k",
      "kube/config",
      "-c",
      "sk",
      "-l",
      "location=SK",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(row(r.stdout, "name"), "cluster-sk");
    assert.ok(!r.stdout.includes("SECRET") && !r.stdout.includes("kubeconfig"), r.stdout);
    const stored = await clusters().get("cluster-sk", NS);
    assert.deepEqual((stored.spec.kubeconfig as any).users, [
      { name: "admin-sk", user: { token: "sk-token-SECRET" } },
    ]);
    const get = await rok(["kube", "cluster", "get", "cluster-sk", "-o", "wide"]);
    assert.ok(!get.stdout.includes("SECRET"));
  });

  it("kubeconfig problems are clear client-side errors (exit 1), nothing is sent", async () => {
    await writeFile(join(t.sb.dir, "dangling.yaml"), stringify({ ...kubeconfig, "current-context": "de" }));
    await writeFile(
      join(t.sb.dir, "no-current.yaml"),
      stringify({ ...kubeconfig, "current-context": undefined }),
    );
    const cases: [string[], RegExp][] = [
      [
        ["-k", "kube/config", "-c", "nope"],
        /--kubeconfig: context 'nope' \(from --context\) is not in the file \(available: de, sk\)/,
      ],
      [["-k", "missing"], /--kubeconfig: cannot read missing: no such file/],
      [
        ["-k", "dangling.yaml"],
        /--kubeconfig: cluster 'cluster-de' certificate-authority: cannot read .*pki\/ca\.pem/,
      ],
      [["-k", "no-current.yaml"], /has no current-context; choose one with --context \(available: de, sk\)/],
    ];
    for (const [args, message] of cases) {
      const r = await rok(["kube", "cluster", "register", ...args]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const r = await rok(["kube", "cluster", "register"]);
    assert.equal(r.code, 2, "-k is required");
    assert.match(r.stderr, /--kubeconfig/);
  });

  it("registering the same cluster again exits 1 with 409", async () => {
    const r = await rok(["kube", "cluster", "register", "-k", "kube/config"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 409 RESOURCE_ALREADY_EXISTS/);
  });
});

describe("kube cluster create, list, get", () => {
  it("create sends the TOSCA, inheritance flags and cloud constraints", async () => {
    const r = await rok([
      "kube",
      "cluster",
      "create",
      "-f",
      "im-cluster.yaml",
      "--inherit-labels",
      "--inherit-metrics",
      "-L",
      "location=DE",
      "-M",
      "electricity_cost_1 < 0.5",
      "-l",
      "team=ops",
      "my-cluster",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.deepEqual(o.spec.tosca, clusterTosca());
    assert.equal(o.metadata.inherit_labels, true);
    assert.equal(o.spec.inherit_metrics, true);
    assert.deepEqual(o.spec.constraints.cloud, {
      labels: ["location=DE"],
      metrics: ["electricity_cost_1 < 0.5"],
    });
    assert.equal(o.status.state, "PENDING");
  });

  it("create checks its file: required, one YAML mapping", async () => {
    let r = await rok(["kube", "cluster", "create", "c2"]);
    assert.equal(r.code, 2);
    r = await rok(["kube", "cluster", "create", "-f", "two-docs.yaml", "c2"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--file: two-docs\.yaml holds 2 YAML documents; expected one/);
  });

  it("list: base columns and state; -o wide adds reason, scheduled_to and nodes", async () => {
    let r = await rok(["kube", "cluster", "list"]);
    assert.match(
      r.stdout.split("\n")[1],
      /^\| name +\| namespace +\| labels +\| created +\| modified +\| deleted +\| state +\|$/,
    );
    assert.deepEqual((await rok(["kube", "cluster", "list", "-o", "name"])).stdout.split("\n").sort(), [
      "",
      "cluster-de",
      "cluster-sk",
      "my-cluster",
    ]);
    r = await rok(["kube", "cluster", "list", "-o", "wide"]);
    assert.match(r.stdout.split("\n")[1], /\| state +\| reason +\| scheduled_to +\| nodes +\|$/);
  });

  it("get shows node counters computed from status.nodes", async () => {
    const o = await clusters().get("cluster-de", NS);
    const node = (name: string, conditions: Record<string, string>) => ({
      api: "kubernetes" as const,
      kind: "ClusterNode" as const,
      metadata: { name },
      status: {
        conditions: Object.entries(conditions).map(([type, status]) => ({
          type,
          status,
          reason: "",
          message: "",
        })),
      },
    });
    o.status.nodes = [
      node("n1", { Ready: "True", MemoryPressure: "True" }),
      node("n2", { Ready: "False", DiskPressure: "True", PIDPressure: "False" }),
      node("n3", { Ready: "True" }),
    ] as any;
    o.status.state = "ONLINE";
    await clusters().updateStatus(o);
    const r = await rok(["kube", "cluster", "get", "cluster-de"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(row(r.stdout, "state"), "ONLINE");
    assert.equal(row(r.stdout, "nodes"), "2/3");
    assert.equal(row(r.stdout, "nodes_pid_pressure"), "0/3");
    assert.equal(row(r.stdout, "nodes_memory_pressure"), "1/3");
    assert.equal(row(r.stdout, "nodes_disk_pressure"), "1/3");
    assert.equal(row(r.stdout, "metrics"), "heat: 2");
  });

  it("get of a scheduled cluster shows the cloud's labels and metrics as inherited (table only)", async () => {
    const cloud = bodies.GlobalCloud("os-cloud-1") as any;
    cloud.metadata.labels = { location: "DE", tier: "gold" };
    cloud.spec.openstack.metrics = [
      { name: "electricity_cost_1", weight: 1, namespaced: false },
      { name: "green_energy_ratio_1", weight: 10, namespaced: false },
    ];
    await t.api.client.kind(GlobalCloud).create(cloud);
    await clusters().action(
      "my-cluster",
      "binding",
      {
        api: "infrastructure",
        kind: "CloudBinding",
        cloud: { api: "infrastructure", kind: "GlobalCloud", namespace: null, name: "os-cloud-1" },
      },
      NS,
    );
    const r = await rok(["kube", "cluster", "get", "my-cluster"]);
    assert.equal(r.code, 0, r.stderr);
    const labels = r.stdout
      .split("\n")
      .filter((l) => /^\| (labels)? +\| /.test(l) && /\(inherited\)|team/.test(l));
    assert.deepEqual(
      labels.map((l) => l.split("|")[2].trim()),
      ["team: ops", "location: DE (inherited)", "tier: gold (inherited)"],
    );
    assert.match(r.stdout, /electricity_cost_1: 1 \(global, inherited\)/);
    assert.match(r.stdout, /green_energy_ratio_1: 10 \(global, inherited\)/);
    assert.equal(row(r.stdout, "scheduled_to"), "os-cloud-1 (global)");

    const raw = json((await rok(["kube", "cluster", "get", "my-cluster", "-o", "json"])).stdout);
    assert.deepEqual(raw.metadata.labels, { team: "ops" }, "json prints the object as stored");
    assert.deepEqual(raw.spec.metrics, []);
  });

  it("with only a label constraint, just the constrained label is shown inherited", async () => {
    const cloud = bodies.Cloud("os-cloud-2") as any;
    cloud.metadata.labels = { location: "SK", tier: "silver" };
    await t.api.client.kind(Cloud).create(cloud, NS);
    let r = await rok([
      "kube",
      "cluster",
      "create",
      "-f",
      "im-cluster.yaml",
      "-L",
      "location=SK",
      "sk-cluster",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await clusters().action(
      "sk-cluster",
      "binding",
      {
        api: "infrastructure",
        kind: "CloudBinding",
        cloud: { api: "infrastructure", kind: "Cloud", namespace: NS, name: "os-cloud-2" },
      },
      NS,
    );
    r = await rok(["kube", "cluster", "get", "sk-cluster"]);
    assert.equal(row(r.stdout, "labels"), "location: SK (inherited)");
    assert.equal(row(r.stdout, "scheduled_to"), "os-cloud-2");
  });
});

describe("kube cluster update and delete", () => {
  it("-f replaces the TOSCA (scaling); labels and metrics merge; -R replaces; constraints append", async () => {
    const r = await rok([
      "kube",
      "cluster",
      "update",
      "-f",
      "scale-up.yaml",
      "-l",
      "team=platform",
      "--metric",
      "heat",
      "5",
      "--global-metric",
      "green_energy_ratio_1",
      "1",
      "-R",
      "other.example.com",
      "-L",
      "tier=gold",
      "-M",
      "green_energy_ratio_1 > 0.5",
      "my-cluster",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.equal(o.spec.tosca.topology_template.inputs.wn_num.default, 3);
    assert.deepEqual(o.metadata.labels, { team: "platform" });
    assert.deepEqual(o.spec.metrics, [
      { name: "heat", weight: 5, namespaced: true },
      { name: "green_energy_ratio_1", weight: 1, namespaced: false },
    ]);
    assert.deepEqual(o.spec.custom_resources, ["other.example.com"]);
    assert.deepEqual(o.spec.constraints.cloud, {
      labels: ["location=DE", "tier=gold"],
      metrics: ["electricity_cost_1 < 0.5", "green_energy_ratio_1 > 0.5"],
    });
  });

  it("a new weight for a metric replaces it; --remove-existing-* clear before adding", async () => {
    let r = await rok(["kube", "cluster", "update", "--metric", "heat", "7", "my-cluster", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).spec.metrics[0], { name: "heat", weight: 7, namespaced: true });
    r = await rok([
      "kube",
      "cluster",
      "update",
      "--remove-existing-labels",
      "--remove-existing-metrics",
      "--remove-existing-cloud-label-constraints",
      "--remove-existing-cloud-metric-constraints",
      "-l",
      "fresh=yes",
      "my-cluster",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.deepEqual(o.metadata.labels, { fresh: "yes" });
    assert.deepEqual(o.spec.metrics, []);
    assert.deepEqual(o.spec.constraints.cloud, { labels: [], metrics: [] });
  });

  it("-k replaces the kubeconfig of a registered cluster; -c without -k is an error", async () => {
    let r = await rok([
      "kube",
      "cluster",
      "update",
      "-k",
      "kube/config",
      "-c",
      "sk",
      "cluster-de",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).spec.kubeconfig["current-context"], "sk");
    r = await rok(["kube", "cluster", "update", "-c", "sk", "cluster-de"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--context needs --kubeconfig/);
  });

  it("an identical update exits 1 (400); updating a missing cluster exits 1 (404)", async () => {
    let r = await rok(["kube", "cluster", "update", "-l", "fresh=yes", "my-cluster"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 400 UPDATE_ERROR/);
    r = await rok(["kube", "cluster", "update", "-l", "a=b", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 404 NOT_FOUND_ERROR/);
  });

  it("create --wait follows the cluster to ONLINE; update --wait to the next ONLINE", async () => {
    const setState = async (name: string, state: string) => {
      const o = await clusters().get(name, NS);
      o.status.state = state as any;
      return clusters().updateStatus(o);
    };
    let run = rok(["kube", "cluster", "create", "-f", "im-cluster.yaml", "--wait", "waited", "-o", "json"]);
    await eventually(() => clusters().get("waited", NS), 10_000, "the cluster to exist");
    for (const s of ["CREATING", "CONNECTING", "ONLINE"]) await setState("waited", s);
    let r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).status.state, "ONLINE");
    assert.match(r.stderr, /PENDING[^]*CREATING[^]*CONNECTING[^]*ONLINE/);

    run = rok(["kube", "cluster", "update", "-f", "scale-up.yaml", "--wait", "waited", "-o", "json"]);
    await eventually(
      async () =>
        ((await clusters().get("waited", NS)).spec.tosca as any).topology_template.inputs.wn_num.default ===
        3,
      10_000,
      "the update",
    );
    for (const s of ["RECONCILING", "CONNECTING", "ONLINE"]) await setState("waited", s);
    r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /RECONCILING/);
  });

  it("delete marks the cluster deleted; --force removes it; a missing one exits 1 (404)", async () => {
    let r = await rok(["kube", "cluster", "delete", "my-cluster", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(json(r.stdout).metadata.deleted);
    r = await rok(["kube", "cluster", "delete", "--force", "cluster-sk"]);
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(clusters().get("cluster-sk", NS), /404|not found/i);
    r = await rok(["kube", "cluster", "delete", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 404/);
  });
});

describe("kube cluster autoscaling flags (docs/autoscaling.md)", () => {
  it("create --autoscale MIN:MAX sets spec.autoscaling (wn_num/wn by default) with the tuning flags", async () => {
    let r = await rok([
      "kube",
      "cluster",
      "create",
      "-f",
      "pool.yaml",
      "--autoscale",
      "1:4",
      "--scale-up-cooldown",
      "30",
      "--max-concurrent-boots",
      "3",
      "--scale-down-idle",
      "120",
      "--scale-down-utilization",
      "0.3",
      "auto",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).spec.autoscaling, {
      workers: { input: "wn_num", system: "wn", min: 1, max: 4 },
      scale_up: { unschedulable_pods: true, pressure: false, metric: null, cooldown: 30, max_concurrent: 3 },
      scale_down: { enabled: true, idle_time: 120, utilization_below: 0.3, metric: null, cooldown: 300 },
    });
    r = await rok(["kube", "cluster", "get", "auto"]);
    assert.equal(row(r.stdout, "autoscaling"), "1..4 workers");
    r = await rok([
      "kube",
      "cluster",
      "create",
      "-f",
      "pool.yaml",
      "--autoscale",
      "0:2",
      "--autoscale-input",
      "wn_num",
      "--autoscale-system",
      "wn",
      "--no-scale-down",
      "auto-2",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const policy = json(r.stdout).spec.autoscaling;
    assert.deepEqual(policy.workers, { input: "wn_num", system: "wn", min: 0, max: 2 });
    assert.equal(policy.scale_down.enabled, false);
  });

  it("bad bounds are usage errors (exit 2); a worker input the TOSCA lacks is the API's 422", async () => {
    let r = await rok(["kube", "cluster", "create", "-f", "pool.yaml", "--autoscale", "5:2", "bad"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /'--autoscale <min:max>' argument '5:2' is invalid\. MIN \(5\) must not be above MAX \(2\)/,
    );
    r = await rok(["kube", "cluster", "create", "-f", "pool.yaml", "--scale-down-idle", "60", "bad"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--scale-down-idle: the new cluster has no autoscaling policy to tune; add --autoscale MIN:MAX/,
    );
    r = await rok([
      "kube",
      "cluster",
      "create",
      "-f",
      "pool.yaml",
      "--autoscale",
      "1:3",
      "--autoscale-input",
      "workers",
      "bad",
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /\n {2}spec\.autoscaling\.workers\.input: The TOSCA template has no input 'workers'\./,
    );
    r = await rok(["kube", "cluster", "create", "-f", "im-cluster.yaml", "--autoscale", "1:3", "bad"]);
    assert.equal(r.code, 1, "a TOSCA without a worker pool cannot be autoscaled");
    assert.match(
      r.stderr,
      /spec\.autoscaling\.workers\.system: Node 'wn' of the TOSCA template is not scaled/,
    );
    await assert.rejects(clusters().get("bad", NS), /404|not found/i);
  });

  it("update --autoscale changes the bounds and keeps the tuning; tuning alone changes only it", async () => {
    let r = await rok(["kube", "cluster", "update", "--autoscale", "2:6", "auto", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    let policy = json(r.stdout).spec.autoscaling;
    assert.deepEqual(policy.workers, { input: "wn_num", system: "wn", min: 2, max: 6 });
    assert.equal(policy.scale_up.cooldown, 30);
    r = await rok([
      "kube",
      "cluster",
      "update",
      "--no-scale-down",
      "--scale-down-cooldown",
      "60",
      "auto",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    policy = json(r.stdout).spec.autoscaling;
    assert.deepEqual(policy.scale_down, {
      enabled: false,
      idle_time: 120,
      utilization_below: 0.3,
      metric: null,
      cooldown: 60,
    });
    assert.deepEqual(policy.workers, { input: "wn_num", system: "wn", min: 2, max: 6 });
  });

  it("an update of the TOSCA's worker count while autoscaled: the API's 422 names the input, rok says what to do", async () => {
    let r = await rok(["kube", "cluster", "update", "-f", "pool-3.yaml", "auto"]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(lines[0], /^Error: 422 Unprocessable Entity: 1 validation error: /);
    assert.match(
      lines[1],
      /^ {2}spec\.tosca\.topology_template\.inputs\.wn_num\.default: The worker count is managed by spec\.autoscaling \(2\.\.6 workers\)/,
    );
    assert.equal(
      lines[2],
      "Hint: the autoscaler sets this cluster's worker count. Change its bounds with --autoscale MIN:MAX, " +
        "or add --no-autoscale to this update to set the count with -f yourself.",
    );
    assert.equal(lines.length, 3);
    // Other TOSCA changes (a bigger flavour) go through.
    r = await rok(["kube", "cluster", "update", "-f", "pool-big.yaml", "auto", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).spec.tosca.topology_template.inputs.wn_cpus.default, 8);
  });

  it("update --no-autoscale removes the policy, in the same update as a new worker count", async () => {
    let r = await rok([
      "kube",
      "cluster",
      "update",
      "--no-autoscale",
      "-f",
      "pool-3.yaml",
      "auto",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.equal(o.spec.autoscaling, null);
    assert.equal(o.spec.tosca.topology_template.inputs.wn_num.default, 3);
    r = await rok(["kube", "cluster", "update", "--scale-up-cooldown", "10", "auto"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /--scale-up-cooldown: Cluster auto has no autoscaling policy to tune; add --autoscale MIN:MAX/,
    );
    r = await rok(["kube", "cluster", "update", "--no-autoscale", "--autoscale-input", "wn_num", "auto"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--no-autoscale removes the policy: it cannot be combined with --autoscale-input/);
    r = await rok(["kube", "cluster", "update", "--autoscale", "1:5", "auto", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).spec.autoscaling.workers, {
      input: "wn_num",
      system: "wn",
      min: 1,
      max: 5,
    });
  });
});

describe("kube cluster events", () => {
  const event = (
    second: number,
    reason: string,
    message: string,
    type = "Normal",
    source = "autoscaler",
  ) => ({
    time: `2030-01-02T03:04:${String(second).padStart(2, "0")}+00:00`,
    type,
    reason,
    message,
    source,
  });
  /** Appends events to the cluster's history through the status subresource, as the controllers do. */
  const record = async (name: string, ...events: ReturnType<typeof event>[]) => {
    const o = (await clusters().get(name, NS)) as any;
    o.status.events = [...(o.status.events ?? []), ...events];
    await clusters().updateStatus(o);
  };

  it("a cluster without events: nothing on stdout, a note on stderr; json prints []", async () => {
    let r = await rok(["kube", "cluster", "events", "auto"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `No events for Cluster ${NS}/auto.\n`);
    r = await rok(["kube", "cluster", "events", "auto", "-o", "json"]);
    assert.deepEqual(json(r.stdout), []);
  });

  it("prints the history as a table, oldest first; -o json|yaml print the list", async () => {
    const history = [
      event(5, "ScaledUp", "scaling up from 1 to 3 workers: 3 pods need 2.5 CPUs"),
      event(9, "NodeKept", "vnode-2 kept: pod default/x has no controller", "Warning"),
    ];
    await record("auto", ...history);
    let r = await rok(["kube", "cluster", "events", "auto"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split("\n")[1], /^\| time +\| type +\| reason +\| message +\| source +\|$/);
    assert.deepEqual(
      r.stdout
        .split("\n")
        .filter((l) => l.startsWith("| 2030"))
        .map((l) =>
          l
            .split("|")
            .slice(1, -1)
            .map((c) => c.trim()),
        ),
      [
        [
          "2030-01-02 03:04:05",
          "Normal",
          "ScaledUp",
          "scaling up from 1 to 3 workers: 3 pods need 2.5 CPUs",
          "autoscaler",
        ],
        [
          "2030-01-02 03:04:09",
          "Warning",
          "NodeKept",
          "vnode-2 kept: pod default/x has no controller",
          "autoscaler",
        ],
      ],
    );
    r = await rok(["kube", "cluster", "events", "auto", "-o", "json"]);
    const listed = json(r.stdout);
    assert.deepEqual(
      listed.map((e: any) => [e.reason, e.type, e.source]),
      [
        ["ScaledUp", "Normal", "autoscaler"],
        ["NodeKept", "Warning", "autoscaler"],
      ],
    );
    assert.deepEqual(listed, (await clusters().get("auto", NS)).status.events);
    r = await rok(["kube", "cluster", "events", "auto", "-o", "yaml"]);
    assert.match(
      r.stdout,
      /^- message: "scaling up from 1 to 3 workers: 3 pods need 2\.5 CPUs"\n {2}reason: ScaledUp\n/,
    );
    // Without $COLUMNS, the table fits 80 columns: long messages wrap inside their cell.
    const narrow = await t.sb.rok(["kube", "cluster", "events", "auto"], { env: { COLUMNS: "" } });
    assert.ok(
      narrow.stdout.split("\n").every((l) => l.length <= 80),
      narrow.stdout,
    );
    assert.ok(tableRows(narrow.stdout).length > 2, "wrapped rows span several lines");
  });

  it("-o name is a usage error; a missing cluster is a 404", async () => {
    let r = await rok(["kube", "cluster", "events", "auto", "-o", "name"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-o name does not apply to events/);
    r = await rok(["kube", "cluster", "events", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 404/);
  });

  it("--watch prints the history, then each new event as it is recorded, until Ctrl-C", async () => {
    const watch = t.sb.start(["kube", "cluster", "events", "--watch", "auto"]);
    await eventually(() => watch.output.stdout.includes("NodeKept"), 10_000, "the history");
    // A status write without new events prints nothing; the history dropping its oldest entry neither.
    const o = (await clusters().get("auto", NS)) as any;
    o.status.state = "ONLINE";
    await clusters().updateStatus(o);
    await record("auto", event(20, "ScaledDown", "vnode-3 removed (VM 42)"));
    await eventually(() => watch.output.stdout.includes("ScaledDown"), 10_000, "the new event");
    const trimmed = (await clusters().get("auto", NS)) as any;
    trimmed.status.events = [
      ...trimmed.status.events.slice(1),
      event(30, "AtMax", "at max workers", "Warning"),
    ];
    await clusters().updateStatus(trimmed);
    await eventually(() => watch.output.stdout.includes("AtMax"), 10_000, "the event after the trim");
    watch.child.kill("SIGINT");
    const r = await watch.done;
    assert.equal(r.code, 0, r.stderr);
    const reasons = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("| 2030"))
      .map((l) => l.split("|")[3].trim());
    assert.deepEqual(reasons, ["ScaledUp", "NodeKept", "ScaledDown", "AtMax"]);
    assert.match(r.stdout.split("\n")[1], /^\| time +\| type +\| reason +\| message +\| source +\|$/);
  });

  it("--watch -o json prints one event per line; it ends when the cluster is gone", async () => {
    const watch = t.sb.start(["kube", "cluster", "events", "-w", "auto", "-o", "json"]);
    await eventually(() => watch.output.stdout.includes("AtMax"), 10_000, "the history");
    await record("auto", event(40, "Deleting", "the cluster is being deleted"));
    await eventually(() => watch.output.stdout.includes("Deleting"), 10_000, "the new event");
    await clusters().delete("auto", NS, { force: true });
    const r = await watch.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `Cluster ${NS}/auto was deleted.\n`);
    const lines = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((e) => e.reason),
      ["NodeKept", "ScaledDown", "AtMax", "Deleting"],
    );
  });
});
