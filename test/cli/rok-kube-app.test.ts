import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { Application } from "../../src/resources/registry.js";
import { eventually } from "../support/api.js";
import { deployment } from "../support/fixtures.js";
import { useRokApi } from "../support/rok.js";

const NS = "system:admin";

const t = useRokApi(undefined, async () => {
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "echo-demo" },
    spec: { ports: [{ port: 8080 }] },
  };
  await file("echo.yaml", `${stringify(deployment())}---\n${stringify(service)}---\n`);
  const withEnv = deployment("env-app");
  (withEnv.spec.template.spec.containers[0] as any).env = [
    { name: "GREETING", value: "HELLO" },
    { name: "OTHER", value: "KEEP" },
  ];
  await file("env.yaml", stringify(withEnv));
  await file(
    "tosca.yaml",
    stringify({
      tosca_definitions_version: "tosca_simple_yaml_1_0",
      topology_template: {
        node_templates: {
          echo: {
            type: "tosca.nodes.indigo.KubernetesObject",
            properties: { spec: stringify(deployment("t")) },
          },
        },
      },
    }),
  );
  await file(
    "observer.yaml",
    stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "echo-demo" } }),
  );
  await file("statefulset.yaml", stringify({ ...deployment("db"), kind: "StatefulSet" }));
  await file("broken.yaml", "apiVersion: v1\nkind: [unclosed\n");
});

const file = (name: string, text: string) => writeFile(join(t.sb.dir, name), text);
const rok = (args: string[]) => t.sb.rok(args);
const json = (s: string) => JSON.parse(s);
const apps = () => t.api.client.kind(Application);

/** Plays the application controller: writes `state` (and a reason) through the status subresource. */
async function setState(name: string, state: string, reason?: string, ns = NS) {
  const o = await apps().get(name, ns);
  o.status.state = state as any;
  o.status.reason = reason ? { code: "INTERNAL_ERROR", message: reason } : null;
  return apps().updateStatus(o);
}

describe("kube app create (cli.md §2.1)", () => {
  it("a multi-document manifest becomes spec.manifest, with constraints, labels, hooks and backoff", async () => {
    const r = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "echo.yaml",
      "-L",
      "location=DE",
      "-L",
      "tier in (gold, silver)",
      "-R",
      "crontabs.stable.example.com",
      "-M",
      "load < 5",
      "-l",
      "team=web",
      "-l",
      "env=prod",
      "--hook-complete",
      "--hook-shutdown",
      "30",
      "delete",
      "3",
      "--backoff",
      "2",
      "--backoff_delay",
      "5",
      "--backoff_limit",
      "10",
      "--auto-cluster-create",
      "echo-demo",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.equal(o.metadata.name, "echo-demo");
    assert.equal(o.metadata.namespace, NS);
    assert.deepEqual(o.metadata.labels, { team: "web", env: "prod" });
    assert.deepEqual(
      o.spec.manifest.map((m: any) => m.kind),
      ["Deployment", "Service"],
    );
    assert.deepEqual(o.spec.tosca, {});
    assert.deepEqual(o.spec.constraints, {
      migration: true,
      cluster: {
        labels: ["location=DE", "tier in (gold, silver)"],
        custom_resources: ["crontabs.stable.example.com"],
        metrics: ["load < 5"],
      },
    });
    assert.deepEqual(o.spec.hooks, ["complete", "shutdown"]);
    assert.equal(o.spec.shutdown_grace_time, 30);
    assert.equal(o.spec.shutdown_failure_strategy, "delete");
    assert.equal(o.spec.shutdown_retry_count, 3);
    assert.deepEqual([o.spec.backoff, o.spec.backoff_delay, o.spec.backoff_limit], [2, 5, 10]);
    assert.equal(o.spec.auto_cluster_create, true);
    assert.equal(o.status.state, "PENDING");
  });

  it("a bare --hook-shutdown means a 60 s grace time; --disable-migration pins the app", async () => {
    const r = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "echo.yaml",
      "--hook-shutdown",
      "--disable-migration",
      "hooked",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.deepEqual(o.spec.hooks, ["shutdown"]);
    assert.equal(o.spec.shutdown_grace_time, 60);
    assert.equal(o.spec.constraints.migration, false);
  });

  it("a TOSCA file (tosca_definitions_version) becomes spec.tosca; -u picks tosca or csar by suffix", async () => {
    let r = await rok(["kube", "app", "create", "-f", "tosca.yaml", "tosca-file", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    let o = json(r.stdout);
    assert.equal(o.spec.tosca.tosca_definitions_version, "tosca_simple_yaml_1_0");
    assert.deepEqual(o.spec.manifest, []);

    r = await rok(["kube", "app", "create", "-u", "http://example.com/app.yaml", "tosca-url", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).spec.tosca, "http://example.com/app.yaml");

    r = await rok(["kube", "app", "create", "-u", "http://example.com/app.csar", "csar-url", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    o = json(r.stdout);
    assert.equal(o.spec.csar, "http://example.com/app.csar");
    assert.deepEqual(o.spec.tosca, {});
  });

  it("-O sends the observer schema; -i replaces env values named by KEY", async () => {
    let r = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "echo.yaml",
      "-O",
      "observer.yaml",
      "observed",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).spec.observer_schema, [
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "echo-demo" } },
    ]);

    r = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "env.yaml",
      "-i",
      "HELLO=bonjour",
      "NOPE=x",
      "env-app",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).spec.manifest[0].spec.template.spec.containers[0].env, [
      { name: "GREETING", value: "bonjour" },
      { name: "OTHER", value: "KEEP" },
    ]);
  });

  it("client-side errors exit 1 and send nothing", async () => {
    const cases: [string[], RegExp][] = [
      [[], /Application should be defined by a TOSCA template file or a Kubernetes manifest file/],
      [["-u", "http://example.com/app.txt"], /--url: Application should be defined by a TOSCA template URL/],
      [["-f", "echo.yaml", "-u", "http://example.com/a.yaml"], /use either --file or --url/],
      [["-f", "missing.yaml"], /--file: cannot read missing\.yaml: no such file/],
      [["-f", "broken.yaml"], /--file: broken\.yaml is not valid YAML \(line \d+, column \d+\)/],
      [
        ["-f", "echo.yaml", "--enable-migration", "--disable-migration"],
        /either --enable-migration or --disable-migration/,
      ],
      [
        ["-f", "echo.yaml", "--hook-shutdown", "30", "explode"],
        /--hook-shutdown: the failure strategy must be give_up or delete/,
      ],
      [["-f", "echo.yaml", "--backoff", "x"], /--backoff: expected a number/],
      [["-f", "echo.yaml", "-l", "novalue"], /invalid label 'novalue'/],
    ];
    for (const [args, message] of cases) {
      const r = await rok(["kube", "app", "create", ...args, "not-sent"]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    await assert.rejects(apps().get("not-sent", NS), /404|not found/i);
  });

  it("server-side validation errors name the field (422), duplicates are 409", async () => {
    let r = await rok(["kube", "app", "create", "-f", "echo.yaml", "-L", "location==", "bad-constraint"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 422 /);
    assert.match(r.stderr, /spec\.constraints\.cluster\.labels/);
    r = await rok(["kube", "app", "create", "-f", "echo.yaml", "echo-demo"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 409 RESOURCE_ALREADY_EXISTS/);
  });

  it("warns when migrating a StatefulSet without a shutdown hook", async () => {
    const r = await rok(["kube", "app", "create", "-f", "statefulset.yaml", "db", "-o", "name"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: migrating StatefulSet without a shutdown hook/);
    const quiet = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "statefulset.yaml",
      "--disable-migration",
      "db2",
      "-o",
      "name",
    ]);
    assert.equal(quiet.stderr, "");
  });
});

describe("kube app list, get, tables", () => {
  it("list shows the namespace's apps; -a all namespaces; -n another", async () => {
    let r = await rok(["kube", "app", "create", "-f", "echo.yaml", "-n", "team-b", "other-ns", "-o", "name"]);
    assert.equal(r.code, 0, r.stderr);
    r = await rok(["kube", "application", "list", "-o", "name"]);
    assert.ok(r.stdout.split("\n").includes("echo-demo"));
    assert.ok(!r.stdout.split("\n").includes("other-ns"));
    r = await rok(["kubernetes", "app", "list", "-a", "-o", "name"]);
    assert.ok(r.stdout.split("\n").includes("other-ns"));
    r = await rok(["kube", "app", "list", "-n", "team-b", "-o", "name"]);
    assert.equal(r.stdout, "other-ns\n");
  });

  it("the list table has the base columns and state; -o wide adds placement", async () => {
    let r = await rok(["kube", "app", "list"]);
    const header = r.stdout.split("\n")[1];
    assert.match(
      header,
      /^\| name +\| namespace +\| labels +\| created +\| modified +\| deleted +\| state +\|$/,
    );
    r = await rok(["kube", "app", "list", "-o", "wide"]);
    assert.match(r.stdout.split("\n")[1], /\| state +\| reason +\| scheduled_to +\| running_on +\|$/);
  });

  it("get shows cli.md §3's rows: container health, constraints, hooks, placement, backoff", async () => {
    const bound = await apps().get("echo-demo", NS);
    bound.status.container_health = { running_pods: 2, failed_pods: 1, completed_pods: 0, desired_pods: 3 };
    bound.status.services = { "echo-demo": "10.0.0.5:30080" };
    bound.status.running_on = { api: "kubernetes", kind: "Cluster", namespace: NS, name: "c-de" };
    await apps().updateStatus(bound);
    const r = await rok(["kube", "app", "get", "echo-demo"]);
    assert.equal(r.code, 0, r.stderr);
    const row = (name: string) =>
      r.stdout
        .split("\n")
        .find((l) => l.startsWith(`| ${name} `))
        ?.split("|")[2]
        ?.trim();
    assert.equal(row("container_health"), "2 active / 1 failed / 0 succeeded / 3 desired");
    assert.equal(row("services"), "echo-demo: 10.0.0.5:30080");
    assert.equal(row("allow migration"), "true");
    assert.equal(row("label constraints"), "location=DE");
    assert.equal(row("resources constraints"), "crontabs.stable.example.com");
    assert.equal(row("metric constraints"), "load < 5");
    assert.equal(row("hooks"), "complete");
    assert.equal(row("running_on"), "c-de");
    assert.equal(row("backoff_limit"), "10");
    assert.ok(!/token|complete_key|-----BEGIN/.test(r.stdout), "hook secrets never in tables");
  });

  it("-o yaml prints the object; get of a missing app exits 1 with 404", async () => {
    let r = await rok(["kube", "app", "get", "echo-demo", "-o", "yaml"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^api: kubernetes\nkind: Application\n/);
    r = await rok(["kube", "app", "get", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 404 NOT_FOUND_ERROR/);
  });
});

describe("kube app update", () => {
  it("labels merge, -L and -R replace, -M appends; --remove-existing-* clear first", async () => {
    let r = await rok([
      "kube",
      "app",
      "update",
      "echo-demo",
      "-l",
      "env=staging",
      "-L",
      "location=SK",
      "-R",
      "other.example.com",
      "-M",
      "latency < 10",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    let o = json(r.stdout);
    assert.deepEqual(o.metadata.labels, { team: "web", env: "staging" });
    assert.deepEqual(o.spec.constraints.cluster, {
      labels: ["location=SK"],
      custom_resources: ["other.example.com"],
      metrics: ["load < 5", "latency < 10"],
    });
    assert.deepEqual(
      [o.spec.backoff, o.spec.backoff_delay, o.spec.backoff_limit],
      [2, 5, 10],
      "backoff kept",
    );

    r = await rok([
      "kube",
      "app",
      "update",
      "echo-demo",
      "--remove-existing-labels",
      "-l",
      "only=me",
      "--remove-existing-label-constraints",
      "--remove-existing-resource-constraints",
      "--remove-existing-metric-constraints",
      "--disable-migration",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    o = json(r.stdout);
    assert.deepEqual(o.metadata.labels, { only: "me" });
    assert.deepEqual(o.spec.constraints, {
      migration: false,
      cluster: { labels: [], custom_resources: [], metrics: [] },
    });
  });

  it("-f replaces the manifest; -u with a TOSCA URL clears it; an identical update exits 1 (400)", async () => {
    let r = await rok(["kube", "app", "update", "-f", "env.yaml", "echo-demo", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      json(r.stdout).spec.manifest.map((m: any) => m.metadata.name),
      ["env-app"],
    );
    r = await rok(["kube", "app", "update", "-f", "env.yaml", "echo-demo"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 400 UPDATE_ERROR: The body contained no update\./);
    r = await rok(["kube", "app", "update", "-u", "http://example.com/new.yml", "tosca-url", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).spec.tosca, "http://example.com/new.yml");
  });
});

describe("kube app delete and retry", () => {
  it("delete prints the object marked deleted; --force removes it at once", async () => {
    let r = await rok(["kube", "app", "delete", "hooked", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(json(r.stdout).metadata.deleted);
    r = await rok(["kube", "app", "delete", "--force", "observed", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(apps().get("observed", NS), /404|not found/i);
    r = await rok(["kube", "app", "delete", "never-there"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 404/);
  });

  it("retry is refused unless the app is DEGRADED, then re-arms the shutdown", async () => {
    let r = await rok(["kube", "app", "retry", "env-app"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 400 UPDATE_ERROR: No migration or deletion retry needed/);
    await setState("env-app", "DEGRADED", "shutdown hook timed out");
    r = await rok(["kube", "app", "retry", "env-app", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).status.state, "WAITING_FOR_CLEANING");
  });
});

describe("kube app --wait (watching)", () => {
  it("create --wait (bare, before NAME) follows the state to RUNNING and prints the final object", async () => {
    const run = rok(["kube", "app", "create", "-f", "echo.yaml", "--wait", "w-ok", "-o", "json"]);
    await eventually(() => apps().get("w-ok", NS), 10_000, "the app to exist");
    await setState("w-ok", "CREATING");
    await setState("w-ok", "RUNNING");
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).status.state, "RUNNING");
    assert.deepEqual(
      r.stderr
        .trim()
        .split("\n")
        .map((l) => l.replace(/ \(\d+s\)$/, "")),
      ["Application w-ok: PENDING", "Application w-ok: CREATING", "Application w-ok: RUNNING"],
      "one plain line per state change without a terminal",
    );
  });

  it("--wait creating stops at CREATING", async () => {
    const run = rok([
      "kube",
      "app",
      "create",
      "-f",
      "echo.yaml",
      "--wait",
      "creating",
      "w-creating",
      "-o",
      "json",
    ]);
    await eventually(() => apps().get("w-creating", NS), 10_000, "the app to exist");
    await setState("w-creating", "CREATING");
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).status.state, "CREATING");
  });

  it("FAILED ends the wait with exit 1 and the reason", async () => {
    const run = rok(["kube", "app", "create", "-f", "echo.yaml", "--wait", "w-fail"]);
    await eventually(() => apps().get("w-fail", NS), 10_000, "the app to exist");
    await setState("w-fail", "FAILED", "image pull failed");
    const r = await run;
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Error: Application system:admin\/w-fail is FAILED: INTERNAL_ERROR: image pull failed/,
    );
    assert.equal(r.stdout, "");
  });

  it("--timeout passes: exit 1 naming the state it was in", async () => {
    const r = await rok([
      "kube",
      "app",
      "create",
      "-f",
      "echo.yaml",
      "--wait",
      "--timeout",
      "1s",
      "w-timeout",
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Error: timed out after 1s waiting for Application system:admin\/w-timeout to be RUNNING \(state: PENDING\)/,
    );
  });

  it("bad --wait states and durations are usage errors (exit 2)", async () => {
    let r = await rok(["kube", "app", "update", "--wait", "creating", "w-timeout"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--wait: expected one of reconciling, running, got 'creating'/);
    r = await rok(["kube", "app", "create", "-f", "echo.yaml", "--wait", "--timeout", "soon", "w-never"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--timeout: expected a duration/);
    await assert.rejects(apps().get("w-never", NS), /404|not found/i);
  });

  it("update --wait waits for the controller to act on the new spec, not the RUNNING it already has", async () => {
    const run = rok(["kube", "app", "update", "-f", "env.yaml", "--wait", "running", "w-ok", "-o", "json"]);
    const before = await apps().get("w-ok", NS);
    await eventually(
      async () => ((await apps().get("w-ok", NS)).spec.manifest[0] as any).metadata.name === "env-app",
      10_000,
      "the update",
    );
    assert.equal(before.status.state, "RUNNING");
    await setState("w-ok", "RECONCILING");
    await setState("w-ok", "RUNNING");
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /RECONCILING/);
  });

  it("delete --wait returns once the object is gone (a GC removes the finalizer)", async () => {
    const run = rok(["kube", "app", "delete", "--wait", "w-ok", "-o", "json"]);
    const marked: any = await eventually(
      async () => {
        const o = await apps().get("w-ok", NS);
        return o.metadata.deleted ? o : null;
      },
      10_000,
      "the deletion mark",
    );
    marked.metadata.finalizers = [];
    await apps().update(marked);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).status.state, "DELETED");
  });

  it("a timed-out delete --wait says which finalizers hold the object", async () => {
    const r = await rok(["kube", "app", "delete", "--wait", "deleted", "--timeout", "500ms", "w-timeout"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /waiting for finalizers: cascade_deletion/);
  });
});
