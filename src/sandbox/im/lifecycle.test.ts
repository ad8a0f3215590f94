/**
 * Infrastructures over time: async creation and state progression, outputs before and after configuration,
 * Krake's scale-up/scale-down documents, reconfigure after a contextualization failure, async and sync delete,
 * and the control API (failure injection, pause, request log). Tests wait on conditions with deadlines.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { startImSimulator, type ImSimulator, type ImSimulatorOptions } from "./server.js";
import { INSTANT, TEST_AUTH, call, k8sYaml, waitFor } from "./test-support.js";

const example = (name: string) => readFileSync(join(process.cwd(), "examples", name), "utf8");
const AUTH = { authorization: TEST_AUTH };
const YAML_BODY = { ...AUTH, "content-type": "text/yaml" };

async function simulator(t: TestContext, options: ImSimulatorOptions = {}): Promise<ImSimulator> {
  const sim = await startImSimulator(options);
  t.after(() => sim.close());
  return sim;
}

async function create(sim: ImSimulator, body: string, query = "?async=true"): Promise<string> {
  const answer = await call(sim.url, "POST", `/infrastructures${query}`, { headers: YAML_BODY, body });
  assert.equal(answer.status, 200, answer.body);
  return answer.headers.infid as string;
}

async function state(
  sim: ImSimulator,
  id: string,
): Promise<{ state: string; vm_states: Record<string, string> }> {
  const answer = await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH });
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body).state;
}

async function outputs(sim: ImSimulator, id: string): Promise<Record<string, unknown>> {
  const answer = await call(sim.url, "GET", `/infrastructures/${id}/outputs`, { headers: AUTH });
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body).outputs;
}

function waitForState(sim: ImSimulator, id: string, wanted: string, timeoutMs = 3000) {
  return waitFor(
    `state ${wanted}`,
    async () => {
      const current = await state(sim, id);
      return current.state === wanted ? current : undefined;
    },
    timeoutMs,
  );
}

describe("asynchronous creation", () => {
  it("goes pending (no VMs) → pending VMs → running → configured, one step at a time", async (t) => {
    const sim = await simulator(t, {
      delays: { create: 60_000, pending: 60_000, running: 60_000, configure: 60_000 },
    });
    const id = await create(sim, k8sYaml());
    assert.deepEqual(await state(sim, id), { state: "pending", vm_states: {} });
    assert.equal(await sim.flush(1), 1); // launch
    assert.deepEqual(await state(sim, id), {
      state: "pending",
      vm_states: { "0": "pending", "1": "pending" },
    });
    await sim.flush(1); // VM 0 boots
    assert.deepEqual(await state(sim, id), {
      state: "pending",
      vm_states: { "0": "running", "1": "pending" },
    });
    await sim.flush(1); // VM 1 boots
    assert.deepEqual(await state(sim, id), {
      state: "running",
      vm_states: { "0": "running", "1": "running" },
    });
    await sim.flush(2); // contextualization starts on both
    assert.equal((await state(sim, id)).state, "running");
    await sim.flush(1); // VM 0 configured, VM 1 still running
    assert.deepEqual(await state(sim, id), {
      state: "running",
      vm_states: { "0": "configured", "1": "running" },
    });
    assert.equal(await sim.flush(), 1);
    assert.deepEqual(await state(sim, id), {
      state: "configured",
      vm_states: { "0": "configured", "1": "configured" },
    });
  });

  it("progresses on real timers, never going backwards", async (t) => {
    const sim = await simulator(t, { delays: { create: 500, pending: 20, running: 20, configure: 20 } });
    const id = await create(sim, k8sYaml());
    const order = [
      "pending:",
      "pending:pending,pending",
      "pending:running,pending",
      "running:running,running",
      "running:configured,running",
      "configured:configured,configured",
    ];
    const seen: string[] = [];
    await waitFor("configured", async () => {
      const current = await state(sim, id);
      const label = `${current.state}:${Object.values(current.vm_states).join(",")}`;
      if (seen.at(-1) !== label) seen.push(label);
      return current.state === "configured" ? true : undefined;
    });
    assert.equal(seen[0], "pending:");
    assert.equal(seen.at(-1), "configured:configured,configured");
    assert.deepEqual(
      seen,
      order.filter((label) => seen.includes(label)),
      `states never go backwards: ${seen.join(" → ")}`,
    );
  });

  it("answers a sync create after the VMs exist", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, pending: 10_000 } });
    const id = await create(sim, k8sYaml(), "");
    assert.deepEqual(await state(sim, id), {
      state: "pending",
      vm_states: { "0": "pending", "1": "pending" },
    });
    assert.equal(sim.infrastructure(id)?.createdAsync, false);
  });

  it("gives null outputs before configuration and the kubeconfig once configured", async (t) => {
    const sim = await simulator(t, {
      delays: { create: 0, pending: 0, running: 0, configure: 10_000 },
      kubernetesUrl: "https://k8s.sandbox.test:6443",
    });
    const id = await create(sim, example("im-cluster.yaml"));
    const before = await outputs(sim, id);
    assert.equal(before.kubeconfig, null);
    assert.equal(before.api_endpoint, "https://203.0.113.1:6443");
    assert.equal((await state(sim, id)).state, "running");
    assert.ok((await sim.flush()) >= 2, "both contextualizations completed at once");
    assert.equal((await state(sim, id)).state, "configured");
    const after = await outputs(sim, id);
    const kubeconfig = parseYaml(after.kubeconfig as string);
    assert.equal(kubeconfig.clusters[0].cluster.server, "https://k8s.sandbox.test:6443");
    assert.match(kubeconfig.users[0].user.token, /^imsim\.[0-9a-f]{32}$/);
    assert.ok(kubeconfig.clusters[0].cluster["certificate-authority-data"]);
    assert.equal(kubeconfig["current-context"], "kubernetes-admin@kubernetes");
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, { headers: AUTH });
    assert.match(
      contmsg.body,
      /^VM 0:\nContextualization agent output processed successfully\nLaunch task: lrms_front_end_front_conf_front\n/,
    );
    assert.match(
      contmsg.body,
      /TASK \[kube_conf\] \*+\nok: \[vnode-0\] => \{\n {4}"changed": false,\n {4}"msg": "apiVersion: v1\\nkind: Config/,
    );
  });

  it("produces the kubeconfig with kubeconfigFor(infId, vmCount) when given", async (t) => {
    const calls: Array<[string, number]> = [];
    const sim = await simulator(t, {
      delays: INSTANT,
      kubeconfigFor: (infId, vmCount) => {
        calls.push([infId, vmCount]);
        return `kubeconfig for ${vmCount} VMs`;
      },
    });
    const id = await create(sim, example("im-cluster.yaml"));
    assert.equal((await outputs(sim, id)).kubeconfig, "kubeconfig for 2 VMs");
    assert.deepEqual(calls.at(-1), [id, 2]);
  });
});

describe("scaling by re-posting TOSCA (Krake's update style)", () => {
  it("scales im-cluster.yaml up by wn_num, then down removing exactly the removal_list ids", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, configure: 60_000 } });
    const id = await create(sim, example("im-cluster.yaml"));
    await sim.flush();

    const up = await call(sim.url, "POST", `/infrastructures/${id}?async=true`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-up.yaml"),
    });
    assert.deepEqual(
      [up.status, up.headers.infid, up.headers["content-type"], up.body],
      [200, id, "text/uri-list; charset=utf-8", `${sim.url}/infrastructures/${id}/vms/2`],
    );
    const scaling = await state(sim, id);
    assert.deepEqual(scaling, {
      state: "running",
      vm_states: { "0": "running", "1": "running", "2": "running" },
    });
    await sim.flush();
    assert.deepEqual(Object.keys((await waitForState(sim, id, "configured")).vm_states), ["0", "1", "2"]);

    const down = await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: { ...YAML_BODY, accept: "application/json" },
      body: example("im-cluster-scale-down.yaml"),
    });
    assert.deepEqual([down.status, down.body], [200, '{"uri-list":[]}']);
    await sim.flush();
    assert.deepEqual(Object.keys((await waitForState(sim, id, "configured")).vm_states), ["0", "1"]);
    const snapshot = sim.infrastructure(id);
    assert.deepEqual(snapshot?.removedVmIds, [2]);
    assert.equal(snapshot?.lastTosca, example("im-cluster-scale-down.yaml"));
    assert.deepEqual(snapshot?.calls, { add: 2, reconfigure: 0, delete: 0 });
    assert.match(snapshot?.storedTosca ?? "", /removal_list:\n {12}- '2'/);

    const again = await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-up.yaml"),
    });
    assert.equal(again.body, `${sim.url}/infrastructures/${id}/vms/3`, "VM ids are never reused");
  });

  it("keeps a removal_list from an earlier document, so a later scale-down without one hits the deleted VM (IM's merge)", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const id = await create(sim, example("im-cluster-scale-up.yaml"));
    await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-down.yaml"),
    });
    await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster-scale-up.yaml"),
    });
    const stale = await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: example("im-cluster.yaml"),
    });
    assert.deepEqual([stale.status, stale.body], [400, "Error Adding resources: Deleted VM."]);
  });

  it("re-posting an unchanged document reconfigures (context=true) and answers an empty list", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, configure: 10_000 } });
    const id = await create(sim, k8sYaml());
    sim.setVmState(id, 0, "configured");
    sim.setVmState(id, 1, "configured");
    const same = await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: YAML_BODY,
      body: k8sYaml(),
    });
    assert.deepEqual([same.status, same.headers["content-length"], same.body], [200, "0", ""]);
    assert.equal((await state(sim, id)).state, "running");
  });

  it("leaves new VMs unconfigured-but-running with context=false, and omits InfID", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const id = await create(sim, k8sYaml());
    const add = await call(sim.url, "POST", `/infrastructures/${id}?context=false`, {
      headers: YAML_BODY,
      body: k8sYaml(2),
    });
    assert.equal(add.headers.infid, undefined);
    assert.deepEqual((await state(sim, id)).vm_states, {
      "0": "configured",
      "1": "configured",
      "2": "running",
    });
    await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure?vm_list=2`, { headers: AUTH });
    assert.equal((await state(sim, id)).state, "configured");
    const badList = await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure?vm_list=a,b`, {
      headers: AUTH,
    });
    assert.deepEqual([badList.status, badList.body], [400, "Incorrect vm_list format."]);
  });
});

describe("contextualization failures and reconfigure", () => {
  it("shows unconfigured in the aggregate, masked by running; reconfigure recovers", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, configure: 60_000 } });
    const id = await create(sim, example("im-cluster.yaml"));
    await sim.flush();
    sim.makeUnconfigured(id, 1, { message: "kubeadm join failed" });
    assert.deepEqual(await state(sim, id), {
      state: "unconfigured",
      vm_states: { "0": "configured", "1": "unconfigured" },
    });
    sim.setVmState(id, 0, "running");
    assert.deepEqual(await state(sim, id), {
      state: "running",
      vm_states: { "0": "running", "1": "unconfigured" },
    });
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, { headers: AUTH });
    assert.match(
      contmsg.body,
      /VM 1:\nLaunch task: basic\n.*\nfatal: \[vnode-1\]: FAILED! => \{"changed":false,"msg":"kubeadm join failed"\}/s,
    );
    const reconfigure = await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure`, { headers: AUTH });
    assert.deepEqual([reconfigure.status, reconfigure.headers.infid], [200, id]);
    assert.equal((await state(sim, id)).vm_states["1"], "running");
    await sim.flush();
    assert.equal((await state(sim, id)).state, "configured");
  });

  it("keeps failing with a persistent fault until it is cleared", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const id = await create(sim, k8sYaml());
    sim.makeUnconfigured(id, 0, { persistent: true });
    await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure`, { headers: AUTH });
    assert.equal((await state(sim, id)).state, "unconfigured");
    sim.clearContextualizationFault(id, 0);
    await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure`, { headers: AUTH });
    assert.equal((await state(sim, id)).state, "configured");
  });

  it("reports unknown and failed VMs as IM aggregates them", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const id = await create(sim, k8sYaml());
    sim.setVmState(id, 1, "unknown");
    assert.equal((await state(sim, id)).state, "unknown");
    sim.failInfrastructure(id, "Simulated cloud failure\n");
    assert.deepEqual(await state(sim, id), { state: "failed", vm_states: { "0": "failed", "1": "failed" } });
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg?headeronly=true`, {
      headers: AUTH,
    });
    assert.equal(
      contmsg.body,
      "Contextualization disabled by the RADL/TOSCA template.\n\nSimulated cloud failure\n",
    );
  });

  it("fails an infrastructure still in its creation window with no VMs", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, create: 10_000 } });
    const id = await create(sim, k8sYaml());
    sim.failInfrastructure(id, "boom\n");
    assert.deepEqual(await state(sim, id), { state: "failed", vm_states: {} });
  });
});

describe("launch failures", () => {
  it("answers 400 on a sync create and shows failed + contmsg + None outputs on an async one", async (t) => {
    const fixed = new Date("2026-05-20T10:11:12.345Z");
    const sim = await simulator(t, { delays: INSTANT, now: () => fixed });
    sim.failNextLaunch("No VMI obtained from Sites to system 'wn': Connection refused");
    const sync = await call(sim.url, "POST", "/infrastructures", { headers: YAML_BODY, body: k8sYaml() });
    assert.deepEqual(
      [sync.status, sync.body],
      [400, "Error Creating Inf.: No VMI obtained from Sites to system 'wn': Connection refused"],
    );
    assert.equal((await call(sim.url, "GET", "/infrastructures", { headers: AUTH })).body, "");

    sim.failNextLaunch("Connection refused");
    const id = await create(sim, k8sYaml());
    assert.deepEqual(await state(sim, id), { state: "failed", vm_states: {} });
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, { headers: AUTH });
    assert.equal(contmsg.body, "2026-05-20 10:11:12.345000: Error getting VM images: Connection refused\n");
    assert.deepEqual(await outputs(sim, id), {
      front_ip: null,
      kubeconfig:
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://None:6443\n",
    });
    const info = await call(sim.url, "GET", `/infrastructures/${id}`, { headers: AUTH });
    assert.deepEqual([info.status, info.body], [200, ""]);
  });

  it("fails without a cloud line, and on an OpenStack line lacking credentials", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const noCloud = await call(sim.url, "POST", "/infrastructures", {
      headers: {
        authorization: "id = im; type = InfrastructureManager; username = test; password = test",
        "content-type": "text/yaml",
      },
      body: k8sYaml(),
    });
    assert.deepEqual(
      [noCloud.status, noCloud.body],
      [400, "Error Creating Inf.: No cloud provider available"],
    );
    const openstack =
      "id = im;username = test;password = test;type = InfrastructureManager\\nid = os;host = http://127.0.0.1:5000;auth_version = 3.x_password;username = u;password = p;type = OpenStack";
    const answer = await call(sim.url, "POST", "/infrastructures", {
      headers: { authorization: openstack, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.equal(answer.status, 400);
    assert.equal(
      answer.body,
      "Error Creating Inf.: No VMI obtained from Sites to system 'front': Error getting images from cloud: os (No correct auth data has been specified to OpenStack: username, password and tenant or proxy)",
    );
    const krakeVersion = openstack
      .replace("3.x_password", "2.x_password")
      .replace("password = p;", "password = p;tenant = t;");
    const async = await call(sim.url, "POST", "/infrastructures?async=true", {
      headers: { authorization: krakeVersion, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    const id = async.headers.infid as string;
    assert.equal((await state(sim, id)).state, "failed");
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, { headers: AUTH });
    assert.match(contmsg.body, /Unsupported Auth Version requested/);
  });
});

describe("deletion", () => {
  it("async delete shows deleting, then 404 'Deleted infrastructure.' and drops it from the list", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, delete: 50 } });
    const id = await create(sim, k8sYaml());
    sim.setDelays({ delete: 60_000 });
    const del = await call(sim.url, "DELETE", `/infrastructures/${id}?async=true`, { headers: AUTH });
    assert.deepEqual([del.status, del.body], [200, ""]);
    assert.equal((await state(sim, id)).state, "deleting");
    assert.equal(
      (await call(sim.url, "GET", "/infrastructures", { headers: AUTH })).body.split("/").pop(),
      id,
    );
    await sim.flush();
    const gone = await waitFor("404", async () => {
      const answer = await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH });
      return answer.status === 404 ? answer : undefined;
    });
    assert.equal(gone.body, "Error Getting Inf. prop: Deleted infrastructure.");
    assert.equal((await call(sim.url, "GET", "/infrastructures", { headers: AUTH })).body, "");
    const again = await call(sim.url, "DELETE", `/infrastructures/${id}`, { headers: AUTH });
    assert.deepEqual([again.status, again.body], [404, "Error Destroying Inf: Deleted infrastructure."]);
    assert.equal(sim.infrastructure(id)?.status, "deleted");
    assert.deepEqual(sim.infrastructure(id)?.calls, { add: 0, reconfigure: 0, delete: 1 });
  });

  it("completes an async delete at once with flush()", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, delete: 60_000 } });
    const id = await create(sim, k8sYaml());
    await call(sim.url, "DELETE", `/infrastructures/${id}?async=true`, { headers: AUTH });
    assert.equal((await state(sim, id)).state, "deleting");
    assert.deepEqual((await state(sim, id)).vm_states, { "0": "deleting", "1": "deleting" });
    await sim.flush();
    assert.equal((await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH })).status, 404);
  });

  it("answers 409 to a DELETE while resources are being added", async (t) => {
    const sim = await simulator(t, { delays: { ...INSTANT, add: 60_000 } });
    const id = await create(sim, k8sYaml());
    const adding = call(sim.url, "POST", `/infrastructures/${id}`, { headers: YAML_BODY, body: k8sYaml(2) });
    await waitFor("add in progress", () => sim.requests.find((r) => r.op === "add" && r.status === 0));
    const conflict = await call(sim.url, "DELETE", `/infrastructures/${id}`, { headers: AUTH });
    assert.deepEqual(
      [conflict.status, conflict.body],
      [409, "Error Destroying Inf: Invalid State to perform this operation."],
    );
    await sim.flush();
    assert.equal((await adding).status, 200);
    assert.equal((await call(sim.url, "DELETE", `/infrastructures/${id}`, { headers: AUTH })).status, 200);
  });
});

describe("control API", () => {
  it("injects IM-shaped and raw error answers, a number of times, for one operation or any", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    const id = await create(sim, k8sYaml());
    sim.failNext("state", { status: 500, message: "database is locked", times: 2 });
    const first = await call(sim.url, "GET", `/infrastructures/${id}/state`, {
      headers: { ...AUTH, accept: "application/json" },
    });
    assert.deepEqual([first.status, first.body], [500, '{"message":"database is locked","code":500}']);
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH })).body,
      "database is locked",
    );
    assert.equal((await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH })).status, 200);
    sim.failNext("*", { status: 502, body: "<html>Bad Gateway</html>", contentType: "text/html" });
    const proxy = await call(sim.url, "GET", "/version");
    assert.deepEqual(
      [proxy.status, proxy.headers["content-type"], proxy.body],
      [502, "text/html", "<html>Bad Gateway</html>"],
    );
    sim.failNext("outputs", { status: 504, message: "Operation timed out" });
    sim.clearFailures();
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${id}/outputs`, { headers: AUTH })).status,
      200,
    );
  });

  it("hangs, resets and delays single requests", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    sim.failNext("version", { hang: true });
    await assert.rejects(call(sim.url, "GET", "/version", { timeoutMs: 100 }), /timed out/);
    sim.failNext("version", { reset: true });
    await assert.rejects(call(sim.url, "GET", "/version"), /socket hang up|ECONNRESET/);
    sim.failNext("version", { delayMs: 30 });
    const started = Date.now();
    assert.equal((await call(sim.url, "GET", "/version")).body, "2.0.0");
    assert.ok(Date.now() - started >= 25);
  });

  it("pauses by resetting, holding or refusing connections, and resumes", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    await sim.pause();
    await assert.rejects(call(sim.url, "GET", "/version"), /socket hang up|ECONNRESET/);
    await sim.resume();
    assert.equal((await call(sim.url, "GET", "/version")).status, 200);

    sim.clearRequests();
    await sim.pause("hang");
    let answered = false;
    const held = call(sim.url, "GET", "/version").then((answer) => {
      answered = true;
      return answer;
    });
    await waitFor("request held", () => (sim.requests.length === 1 ? true : undefined));
    assert.equal(sim.requests[0].status, 0);
    assert.equal(answered, false);
    await sim.resume();
    assert.equal((await held).body, "2.0.0");

    await sim.pause("refuse");
    await assert.rejects(call(sim.url, "GET", "/version"), /ECONNREFUSED/);
    await sim.resume();
    assert.equal((await call(sim.url, "GET", "/version")).status, 200);
  });

  it("logs every request with its operation, redacted credentials, body and status", async (t) => {
    const sim = await simulator(t, { delays: INSTANT, users: [{ username: "krake", password: "secret" }] });
    const krakeAuth =
      "id = myprovider;username = krake;password = secret;type = InfrastructureManager\\nid = mycloud;type = Dummy";
    const answer = await call(sim.url, "POST", "/infrastructures?async=true", {
      headers: { authorization: krakeAuth, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    const [record] = sim.requests;
    assert.equal(record.op, "create");
    assert.equal(record.method, "POST");
    assert.equal(record.path, "/infrastructures?async=true");
    assert.equal(
      record.headers.authorization,
      "id = myprovider;username = krake;password = ***;type = InfrastructureManager\\nid = mycloud;type = Dummy",
    );
    assert.equal(record.headers.accept, undefined);
    assert.equal(record.headers["content-type"], "text/yaml");
    assert.deepEqual(record.auth, [
      { id: "myprovider", username: "krake", password: "***", type: "InfrastructureManager" },
      { id: "mycloud", type: "Dummy" },
    ]);
    assert.equal(record.body, k8sYaml());
    assert.equal(record.status, 200);
    assert.ok(!JSON.stringify(sim.requests).includes("secret"));
    await call(sim.url, "GET", `/infrastructures/${answer.headers.infid}/state`, {
      headers: { authorization: krakeAuth },
    });
    assert.deepEqual(sim.stats(), { create: 1, state: 1 });
    assert.deepEqual(
      sim
        .infrastructures()
        .map((inf) => [
          inf.id,
          inf.owners,
          inf.state,
          inf.vms.map((vm) => `${vm.id}:${vm.system}:${vm.state}`),
        ]),
      [[answer.headers.infid, ["krake"], "configured", ["0:front:configured", "1:wn:configured"]]],
    );
    sim.clearRequests();
    assert.equal(sim.requests.length, 0);
  });

  it("changes delays at run time", async (t) => {
    const sim = await simulator(t, { delays: INSTANT });
    sim.setDelays({ pending: 10_000 });
    assert.equal(sim.delays().pending, 10_000);
    const id = await create(sim, k8sYaml());
    assert.equal((await state(sim, id)).state, "pending");
  });
});
