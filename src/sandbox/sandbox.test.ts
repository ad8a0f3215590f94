/**
 * The sandbox's wiring: an infrastructure built through the IM simulator becomes a simulated Kubernetes cluster
 * that the kubeconfig IM hands out can reach, with one node per contextualized VM, and follows scale-up,
 * scale-down, stopped VMs and deletion.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { KubeClient } from "../kube/client.js";
import { connectionOf } from "../kube/kubeconfig.js";
import { ClusterLink, type ClusterLinkEvent } from "./link.js";
import { startSandbox, type Sandbox } from "./sandbox.js";
import { INSTANT, TEST_AUTH, call, waitFor } from "./im/test-support.js";

const example = (name: string) => readFileSync(join(process.cwd(), "examples", name), "utf8");
const AUTH = { authorization: TEST_AUTH };
const YAML_BODY = { ...AUTH, "content-type": "text/yaml" };

async function sandbox(t: TestContext, events: ClusterLinkEvent[] = []): Promise<Sandbox> {
  const sb = await startSandbox({
    imPort: 0,
    delays: INSTANT,
    podStartDelayMs: 0,
    onEvent: (e) => events.push(e),
  });
  t.after(() => sb.close());
  return sb;
}

async function create(sb: Sandbox, tosca: string): Promise<string> {
  const answer = await call(sb.imUrl, "POST", "/infrastructures", { headers: YAML_BODY, body: tosca });
  assert.equal(answer.status, 200, answer.body);
  return answer.headers.infid as string;
}

const nodesOf = (sb: Sandbox, id: string) => sb.kube.cluster(ClusterLink.clusterName(id))?.nodeNames().sort();

describe("sandbox: IM infrastructures become simulated Kubernetes clusters", () => {
  it("serves the cluster the kubeconfig output points at, with a node per VM and a tainted control plane", async (t) => {
    const events: ClusterLinkEvent[] = [];
    const sb = await sandbox(t, events);
    const id = await create(sb, example("im-cluster.yaml"));
    await waitFor("nodes", () => (nodesOf(sb, id)?.length === 2 ? true : undefined));
    assert.deepEqual(nodesOf(sb, id), ["kubeserver", "vnode-1"]);

    const outputs = await call(sb.imUrl, "GET", `/infrastructures/${id}/outputs`, { headers: AUTH });
    const kubeconfig = parseYaml(JSON.parse(outputs.body).outputs.kubeconfig);
    const kube = new KubeClient(connectionOf(kubeconfig));
    const nodes = await kube.list<any>("v1", "Node", null);
    const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
    assert.deepEqual([...byName.keys()].sort(), ["kubeserver", "vnode-1"], "reachable with IM's kubeconfig");
    const front: any = byName.get("kubeserver");
    assert.deepEqual(front.spec.taints, [{ key: "node-role.kubernetes.io/master", effect: "NoSchedule" }]);
    const worker: any = byName.get("vnode-1");
    assert.equal(worker.spec.taints, undefined);
    assert.equal(worker.status.capacity.cpu, "2", "wn_cpus of the template");
    assert.ok(events.some((e) => e.type === "cluster-added" && e.infrastructure === id));
  });

  it("follows scale-up, removal_list scale-down, a stopped VM and deletion", async (t) => {
    const sb = await sandbox(t);
    const id = await create(sb, example("im-cluster.yaml"));
    await waitFor("2 nodes", () => (nodesOf(sb, id)?.length === 2 ? true : undefined));

    const up = await call(sb.imUrl, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-up.yaml"),
    });
    assert.equal(up.status, 200, up.body);
    await waitFor("3 nodes", () => (nodesOf(sb, id)?.length === 3 ? true : undefined));
    assert.deepEqual(nodesOf(sb, id), ["kubeserver", "vnode-1", "vnode-2"]);

    const down = await call(sb.imUrl, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-down.yaml"),
    });
    assert.equal(down.status, 200, down.body);
    await waitFor("vnode-2 gone", () => (nodesOf(sb, id)?.length === 2 ? true : undefined));
    assert.deepEqual(nodesOf(sb, id), ["kubeserver", "vnode-1"]);

    sb.im.setVmState(id, 1, "stopped");
    const cluster = sb.kube.cluster(ClusterLink.clusterName(id));
    const ready = () =>
      cluster?.get("v1", "Node", "", "vnode-1")?.status.conditions.find((c: any) => c.type === "Ready")
        ?.status;
    await waitFor("vnode-1 not ready", () => (ready() === "Unknown" ? true : undefined));
    sb.im.setVmState(id, 1, "configured");
    await waitFor("vnode-1 ready again", () => (ready() === "True" ? true : undefined));

    const gone = await call(sb.imUrl, "DELETE", `/infrastructures/${id}`, { headers: AUTH });
    assert.equal(gone.status, 200, gone.body);
    await waitFor("cluster removed", () => (sb.kube.cluster(ClusterLink.clusterName(id)) ? undefined : true));
  });

  it("leaves infrastructures without a Kubernetes front end alone", async (t) => {
    const sb = await sandbox(t);
    const tosca = [
      "tosca_definitions_version: tosca_simple_yaml_1_0",
      "topology_template:",
      "  node_templates:",
      "    vm:",
      "      type: tosca.nodes.indigo.Compute",
    ].join("\n");
    const id = await create(sb, tosca);
    await waitFor("configured", () =>
      sb.im.infrastructure(id)?.vms.every((vm) => vm.state === "configured" || vm.state === "running")
        ? true
        : undefined,
    );
    assert.deepEqual(sb.kube.clusters(), []);
  });
});
