/**
 * End to end, as a newcomer runs it: `krake up --sandbox` as a subprocess, then the walkthrough's commands
 * verbatim through the real `rok` from the repository root (so `-f examples/…` resolves as in the docs).
 * Nothing is simulated inside this process: the IM and Kubernetes simulators run inside `krake up`, and the
 * test looks at them only from outside, over HTTP, as an operator could.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KrakeClient } from "../../src/client/index.js";
import { Cluster } from "../../src/resources/kinds/kubernetes.js";
import { eventually } from "../support/api.js";
import { startKrakeUp, type KrakeProcess } from "../support/process.js";
import { deleteWalkthroughResources, runRokLine, tableRows } from "../support/rok.js";

/** The walkthrough registers IM at this address; `krake up --sandbox` serves it there by default. */
const IM_URL = "http://localhost:8800";
const IM_AUTH = "id = im; type = InfrastructureManager; username = test; password = test";

let krake: KrakeProcess;
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), "krake-e2e-"));
  krake = await startKrakeUp(["--sandbox", "--port", "0"]);
});

after(async () => {
  const pid = krake?.child.pid;
  const exit = await krake?.kill("SIGTERM");
  await rm(home, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null }, `krake up did not stop cleanly:\n${krake?.output()}`);
  const left = (await readdir(tmpdir())).filter((f) => f.startsWith(`krake-sandbox-${pid}-`));
  assert.deepEqual(left, [], "the sandbox's temporary store is removed on exit");
});

const rok = (line: string) => runRokLine(line, krake.url, home);

const json = async (line: string) => JSON.parse(await rok(`${line} -o json`));

/** The value column of a single-object table's row. */
const field = (table: string, name: string) =>
  table
    .split("\n")
    .find((l) => l.startsWith(`| ${name} `))
    ?.split("|")[2]
    ?.trim();

/** IM's JSON form of a `text/uri-list`. */
const uris = (body: unknown) =>
  ((body as { "uri-list"?: { uri: string }[] })["uri-list"] ?? []).map((u) => u.uri);

async function imInfrastructures(): Promise<string[]> {
  const res = await fetch(`${IM_URL}/infrastructures`, {
    headers: { Authorization: IM_AUTH, Accept: "application/json" },
  });
  assert.equal(res.status, 200);
  return uris(await res.json());
}

/** Records every state a cluster goes through, from a watch on the API. */
function recordStates(name: string): { states: string[]; stop: () => void } {
  const client = new KrakeClient({ url: krake.url });
  const abort = new AbortController();
  const states: string[] = [];
  void (async () => {
    try {
      for await (const ev of client.kind(Cluster).watch("system:admin", { signal: abort.signal })) {
        const obj = ev.object as { metadata: { name: string }; status: { state: string } };
        if (obj.metadata.name !== name) continue;
        if (states.at(-1) !== obj.status.state) states.push(obj.status.state);
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return { states, stop: () => abort.abort() };
}

describe("krake up --sandbox", () => {
  it("runs the seed walkthrough verbatim: provider, cloud, cluster ONLINE, echo-demo running on it, all deleted", async () => {
    await rok(
      "rok infra provider register --type im --url http://localhost:8800 --username test --password test im-provider",
    );
    await rok(
      "rok infra cloud register --type openstack --url https://keystone.example:5000/v3 --project demo --username demo --password demo --infra-provider im-provider os-cloud",
    );
    assert.deepEqual(tableRows(await rok("rok kube cluster list")), [], "no cluster yet");

    const watch = recordStates("my-cluster");
    try {
      await rok("rok kube cluster create -f examples/im-cluster.yaml my-cluster");
      const listed = tableRows(await rok("rok kube cluster list"));
      assert.deepEqual(
        listed.map((r) => r[0]),
        ["my-cluster"],
      );
      await eventually(
        async () => (await json("rok kube cluster get my-cluster")).status.state === "ONLINE",
        60_000,
        "ONLINE",
      );
      const built = watch.states.filter((s) => ["CREATING", "CONNECTING", "ONLINE"].includes(s));
      assert.deepEqual(
        built,
        ["CREATING", "CONNECTING", "ONLINE"],
        `states seen: ${watch.states.join(" → ")}`,
      );
    } finally {
      watch.stop();
    }
    const cluster = await json("rok kube cluster get my-cluster");
    assert.equal(cluster.status.scheduled_to.name, "os-cloud");
    assert.equal((await imInfrastructures()).length, 1, "one infrastructure on IM, built once");

    await rok("rok kube app create -f examples/echo-demo.yaml echo-demo");
    const app = await eventually(
      async () => {
        const a = await json("rok kube app get echo-demo");
        return a.status.state === "RUNNING" ? a : undefined;
      },
      60_000,
      "echo-demo RUNNING",
    );
    assert.equal(app.status.running_on.name, "my-cluster");
    assert.match(app.status.services["echo-demo"], /^[\d.]+:\d+$/, "the NodePort Service's address is shown");
    assert.equal(field(await rok("rok kube app get echo-demo"), "running_on"), "my-cluster");

    await rok("rok kube app delete echo-demo");
    await eventually(async () => tableRows(await rok("rok kube app list")).length === 0, 60_000, "app gone");
    await deleteWalkthroughResources(rok);
  });

  it("scales a cluster up and down (user story 9) with the node counts and names of the example files", async () => {
    await rok(
      "rok infra provider register --type im --url http://localhost:8800 --username test --password test im-provider",
    );
    await rok(
      "rok infra cloud register --type openstack --url https://keystone.example:5000/v3 --project demo --username demo --password demo --infra-provider im-provider os-cloud",
    );
    const clouds = tableRows(await rok("rok infra cloud list"));
    assert.equal(clouds.length, 1);
    for (const value of ["openstack", "im-provider", "ONLINE"])
      assert.ok(clouds[0].includes(value), `cloud row: ${clouds[0]}`);

    await rok("rok kube cluster create -f examples/im-cluster.yaml my-cluster");
    const nodes = async () => {
      const table = await rok("rok kube cluster get my-cluster");
      return {
        state: field(table, "state"),
        nodes: field(table, "nodes"),
        pressure: ["pid", "memory", "disk"].map((p) => field(table, `nodes_${p}_pressure`)),
      };
    };
    const names = async () =>
      ((await json("rok kube cluster get my-cluster")).status.nodes as { metadata: { name: string } }[])
        .map((n) => n.metadata.name)
        .sort();

    await eventually(async () => (await nodes()).nodes === "2/2", 60_000, "nodes 2/2");
    assert.deepEqual(await nodes(), { state: "ONLINE", nodes: "2/2", pressure: ["0/2", "0/2", "0/2"] });
    assert.deepEqual(await names(), ["kubeserver", "vnode-1"]);
    const kubeconfig = (await json("rok kube cluster get my-cluster")).spec.kubeconfig;
    assert.equal(kubeconfig.kind, "Config", "the kubeconfig IM produced is stored in the cluster");

    await rok("rok kube cluster update -f examples/im-cluster-scale-up.yaml my-cluster");
    await eventually(async () => (await nodes()).nodes === "3/3", 60_000, "nodes 3/3");
    assert.deepEqual(await names(), ["kubeserver", "vnode-1", "vnode-2"]);

    await rok("rok kube cluster update -f examples/im-cluster-scale-down.yaml my-cluster");
    await eventually(async () => (await nodes()).nodes === "2/2", 60_000, "nodes 2/2 again");
    assert.deepEqual(await names(), ["kubeserver", "vnode-1"], "removal_list removed exactly VM 2 (vnode-2)");
    assert.equal((await nodes()).state, "ONLINE");
    const [infrastructure] = await imInfrastructures();
    const vms = await fetch(infrastructure, {
      headers: { Authorization: IM_AUTH, Accept: "application/json" },
    });
    const vmIds = uris(await vms.json()).map((uri) => uri.split("/").at(-1));
    assert.deepEqual(vmIds, ["0", "1"], "IM keeps the front end and VM 1");

    await deleteWalkthroughResources(rok);
  });
});
