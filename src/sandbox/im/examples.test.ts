/**
 * The example exchanges of im.md §12 (IM 2.0.0, Dummy connector) and Krake's exact call sequence of §10,
 * replayed against the simulator byte for byte wherever the document gives bytes — plus the IM 1.x
 * differences of §1 under `version: "1.19.2"`.
 *
 * The simulator is given IM's base URL through the Host header (`127.0.0.1:8800`) and the infrastructure ids
 * recorded in the document, so the URIs come out identical.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { startImSimulator, type ImSimulator, type ImSimulatorOptions } from "./server.js";
import { DEMO_AUTH, INSTANT, SIMPLE_RADL, call, k8sYaml, waitFor } from "./test-support.js";

const IM = "http://127.0.0.1:8800";
const HOST = { host: "127.0.0.1:8800" };
const AUTH = { authorization: DEMO_AUTH, ...HOST };
const JSON_ACCEPT = { accept: "application/json" };

async function simulator(
  t: TestContext,
  ids: string[],
  options: ImSimulatorOptions = {},
): Promise<ImSimulator> {
  const queue = [...ids];
  const sim = await startImSimulator({
    users: "any",
    delays: INSTANT,
    newId: () => queue.shift() ?? "ffffffff-0000-11f1-8b87-374104366016",
    ...options,
  });
  t.after(() => sim.close());
  return sim;
}

describe("im.md §12 A: version and auth", () => {
  it("matches", async (t) => {
    const sim = await simulator(t, []);
    assert.equal((await call(sim.url, "GET", "/version")).body, "2.0.0");
    assert.equal(
      (await call(sim.url, "GET", "/version", { headers: JSON_ACCEPT })).body,
      '{"version":"2.0.0"}',
    );
    const plain = await call(sim.url, "GET", "/infrastructures");
    assert.deepEqual([plain.status, plain.body], [401, "No authentication data provided"]);
    const json = await call(sim.url, "GET", "/infrastructures", { headers: JSON_ACCEPT });
    assert.deepEqual(
      [json.status, json.body],
      [401, '{"message":"No authentication data provided","code":401}'],
    );
  });
});

describe("im.md §12 B + C: TOSCA create, state, outputs, listing, VM info, scaling", () => {
  it("matches", async (t) => {
    const INF = "27251b62-e67a-11f1-8b87-374104366016";
    const sim = await simulator(t, [INF]);
    const created = await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual(
      [created.status, created.headers.infid, created.headers["content-type"], created.body],
      [200, INF, "text/uri-list; charset=utf-8", `${IM}/infrastructures/${INF}`],
    );
    const state = await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: AUTH });
    assert.deepEqual(
      [state.status, state.headers["content-type"], state.body],
      [
        200,
        "application/json",
        '{"state":{"state":"configured","vm_states":{"0":"configured","1":"configured"}}}',
      ],
    );
    const outputs = await call(sim.url, "GET", `/infrastructures/${INF}/outputs`, { headers: AUTH });
    assert.deepEqual(
      [outputs.status, outputs.headers["content-type"], outputs.body],
      [
        200,
        "application/json",
        '{"outputs":{"front_ip":"10.0.0.1","kubeconfig":"apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster:\\n    server: https://10.0.0.1:6443\\n"}}',
      ],
    );
    const info = await call(sim.url, "GET", `/infrastructures/${INF}`, { headers: AUTH });
    assert.deepEqual(
      [info.headers["content-type"], info.body],
      [
        "text/uri-list; charset=utf-8",
        `${IM}/infrastructures/${INF}/vms/0\n${IM}/infrastructures/${INF}/vms/1`,
      ],
    );
    const infoJson = await call(sim.url, "GET", `/infrastructures/${INF}`, {
      headers: { ...AUTH, ...JSON_ACCEPT },
    });
    assert.equal(
      infoJson.body,
      `{"uri-list":[{"uri":"${IM}/infrastructures/${INF}/vms/0"},{"uri":"${IM}/infrastructures/${INF}/vms/1"}]}`,
    );
    const list = await call(sim.url, "GET", "/infrastructures", { headers: { ...AUTH, ...JSON_ACCEPT } });
    assert.equal(list.body, `{"uri-list":[{"uri":"${IM}/infrastructures/${INF}"}]}`);
    const contmsg = await call(sim.url, "GET", `/infrastructures/${INF}/contmsg`, { headers: AUTH });
    assert.deepEqual(
      [contmsg.headers["content-type"], contmsg.body],
      ["text/plain; charset=utf-8", "Contextualization disabled by the RADL/TOSCA template.\n\n"],
    );
    const contmsgJson = await call(sim.url, "GET", `/infrastructures/${INF}/contmsg`, {
      headers: { ...AUTH, ...JSON_ACCEPT },
    });
    assert.equal(
      contmsgJson.body,
      '{"contmsg":"Contextualization disabled by the RADL/TOSCA template.\\n\\n"}',
    );
    const vm = await call(sim.url, "GET", `/infrastructures/${INF}/vms/0`, { headers: AUTH });
    assert.match(
      vm.body,
      /^network private_net \( outbound = 'no' \)\nsystem front \(\ninstance_name = 'front' and\ndisk\.0\.os\.name = 'linux' and\ndisk\.0\.os\.flavour = 'ubuntu' and\ncpu\.count >= 2 and\nmemory\.size >= 2000000000B and\nnet_interface\.0\.connection = 'private_net' and\nstate = 'configured' and\nprovider\.type = 'Dummy' and\n/,
    );
    const vmJson = JSON.parse(
      (await call(sim.url, "GET", `/infrastructures/${INF}/vms/0`, { headers: { ...AUTH, ...JSON_ACCEPT } }))
        .body,
    );
    assert.deepEqual(vmJson.radl[0], { class: "network", id: "private_net", outbound: "no" });
    assert.deepEqual(
      [
        vmJson.radl[1].class,
        vmJson.radl[1].id,
        vmJson.radl[1]["cpu.count_min"],
        vmJson.radl[1]["memory.size_min"],
        vmJson.radl[1].state,
        vmJson.radl[1]["net_interface.0.ip"],
      ],
      ["system", "front", 2, 2000000000, "configured", "10.0.0.1"],
    );
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${INF}/vms/0/state`, { headers: AUTH })).body,
      "configured",
    );
    assert.equal(
      (
        await call(sim.url, "GET", `/infrastructures/${INF}/vms/0/state`, {
          headers: { ...AUTH, ...JSON_ACCEPT },
        })
      ).body,
      '{"state":"configured"}',
    );
    assert.equal(
      (
        await call(sim.url, "GET", `/infrastructures/${INF}/vms/0/net_interface.0.ip`, {
          headers: { ...AUTH, ...JSON_ACCEPT },
        })
      ).body,
      '{"net_interface.0.ip":"10.0.0.1"}',
    );
    const nonexistent = await call(sim.url, "GET", `/infrastructures/${INF}/vms/0/nonexistent`, {
      headers: AUTH,
    });
    assert.deepEqual(
      [nonexistent.status, nonexistent.body],
      [404, "Incorrect property nonexistent for VM ID 0"],
    );

    // C: scale up and down by POSTing a modified TOSCA
    const up = await call(sim.url, "POST", `/infrastructures/${INF}?async=true`, {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(3),
    });
    assert.deepEqual(
      [up.status, up.headers.infid, up.headers["content-type"], up.body],
      [
        200,
        INF,
        "text/uri-list; charset=utf-8",
        `${IM}/infrastructures/${INF}/vms/2\n${IM}/infrastructures/${INF}/vms/3`,
      ],
    );
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: AUTH })).body,
      '{"state":{"state":"configured","vm_states":{"0":"configured","1":"configured","2":"configured","3":"configured"}}}',
    );
    const down = await call(sim.url, "POST", `/infrastructures/${INF}`, {
      headers: { ...AUTH, ...JSON_ACCEPT, "content-type": "text/yaml" },
      body: k8sYaml(1),
    });
    assert.deepEqual([down.status, down.body], [200, '{"uri-list":[]}']);
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: AUTH })).body,
      '{"state":{"state":"configured","vm_states":{"0":"configured","3":"configured"}}}',
    );
  });
});

describe("im.md §12 D: RADL async create", () => {
  it("matches", async (t) => {
    const INF = "376be05a-e67a-11f1-8b87-374104366016";
    const sim = await simulator(t, [INF], { delays: { ...INSTANT, create: 60_000 } });
    const created = await call(sim.url, "POST", "/infrastructures?async=1", {
      headers: { ...AUTH, ...JSON_ACCEPT, "content-type": "text/plain" },
      body: SIMPLE_RADL,
    });
    assert.deepEqual(
      [created.status, created.headers.infid, created.body],
      [200, INF, `{"uri":"${IM}/infrastructures/${INF}"}`],
    );
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: AUTH })).body,
      '{"state":{"state":"pending","vm_states":{}}}',
    );
    await sim.flush();
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: AUTH })).body,
      '{"state":{"state":"configured","vm_states":{"0":"configured"}}}',
    );
    const outputs = await call(sim.url, "GET", `/infrastructures/${INF}/outputs`, { headers: AUTH });
    assert.deepEqual(
      [outputs.status, outputs.body],
      [403, "'outputs' infrastructure property is not valid in this infrastructure"],
    );
  });
});

describe("im.md §12 E: errors", () => {
  it("matches", async (t) => {
    const INF = "4a1b2c3d-e67a-11f1-8b87-374104366016";
    const sim = await simulator(t, [INF]);
    await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    const expect = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      status: number,
      body: string,
      send?: string,
    ) => {
      const answer = await call(sim.url, method, path, { headers, body: send });
      assert.deepEqual([answer.status, answer.body], [status, body], `${method} ${path}`);
      return answer;
    };
    await expect(
      "GET",
      "/infrastructures/doesnotexist/state",
      AUTH,
      404,
      "Error Getting Inf. prop: Invalid infrastructure ID or access not granted.",
    );
    await expect(
      "GET",
      "/infrastructures/doesnotexist/state",
      { ...AUTH, ...JSON_ACCEPT },
      404,
      '{"message":"Error Getting Inf. prop: Invalid infrastructure ID or access not granted.","code":404}',
    );
    const foo = await call(sim.url, "GET", `/infrastructures/${INF}/foo`, { headers: AUTH });
    assert.equal(foo.status, 422);
    assert.deepEqual(JSON.parse(foo.body).detail[0], {
      loc: ["path", "prop"],
      msg: "unexpected value; permitted: 'contmsg', 'radl', 'tosca', 'state', 'outputs', 'data', 'authorization'",
      type: "value_error.const",
      ctx: {
        given: "foo",
        permitted: ["contmsg", "radl", "tosca", "state", "outputs", "data", "authorization"],
      },
    });
    await expect(
      "GET",
      `/infrastructures/${INF}/state`,
      { ...AUTH, accept: "text/plain" },
      415,
      "Unsupported Accept Media Types: ['text/plain']",
    );
    const other = { authorization: DEMO_AUTH.replace("username = demo", "username = other"), ...HOST };
    await expect(
      "GET",
      `/infrastructures/${INF}/state`,
      other,
      403,
      "Error Getting Inf. prop: Access to this infrastructure not granted.",
    );
    await expect("GET", "/infrastructures", other, 200, "");
    const noIm = "Error Getting Inf. List: No credentials provided for the InfrastructureManager.";
    await expect("GET", "/infrastructures", { authorization: "id = dummy; type = Dummy" }, 401, noIm);
    await expect("GET", "/infrastructures", { authorization: "garbage" }, 401, noIm);
    await expect(
      "GET",
      "/infrastructures",
      { authorization: `Basic ${Buffer.from("demo:demopass").toString("base64")}` },
      401,
      noIm,
    );
    await expect(
      "POST",
      "/infrastructures",
      { ...AUTH, "content-type": "application/xml" },
      415,
      "Unsupported Media Type ['application/xml']",
      "<x/>",
    );
    await expect(
      "POST",
      "/infrastructures",
      { ...AUTH, ...JSON_ACCEPT },
      400,
      '{"message":"Error parsing request body: Parse error in: None","code":400}',
      "system node (",
    );
    await expect(
      "POST",
      "/infrastructures",
      {
        authorization: "id = im; type = InfrastructureManager; username = demo; password = demopass",
        "content-type": "text/yaml",
      },
      400,
      "Error Creating Inf.: No cloud provider available",
      k8sYaml(),
    );
    const html = await call(sim.url, "GET", "/infrastructures/doesnotexist", {
      headers: { ...AUTH, accept: "text/html" },
    });
    assert.equal(html.status, 404);
    assert.match(
      html.body,
      /<h1>Code: 404\.<\/h1>\n {8}<h1>Message: Error Getting Inf\. info: Invalid infrastructure ID or access not granted\.<\/h1>/,
    );
    await expect("GET", `/infrastructures/${INF}/vms/99`, AUTH, 404, "Error Getting VM. info: Invalid VM ID");
    await expect(
      "POST",
      "/infrastructures?async=maybe",
      { ...AUTH, "content-type": "text/yaml" },
      422,
      '{"detail":[{"loc":["query","async"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}',
      k8sYaml(),
    );
  });
});

describe("im.md §12 F: unreachable cloud (launch failure injected)", () => {
  it("matches", async (t) => {
    const FINF = "5b2c3d4e-e67a-11f1-8b87-374104366016";
    // ids: demo's Dummy infrastructure, the sync create that fails (dropped), the async one
    const sim = await simulator(t, [
      "0a0a0a0a-e67a-11f1-8b87-374104366016",
      "1b1b1b1b-e67a-11f1-8b87-374104366016",
      FINF,
    ]);
    const krakeHeader = {
      authorization:
        "id = myprovider;username = demo;password = demopass;type = InfrastructureManager\\nid = mycloud;host = http://127.0.0.1:5000;auth_version = 3.x_password;username = osuser;password = ospass;tenant = osproject;type = OpenStack",
      ...HOST,
    };
    await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    }); // demo's Dummy one
    const refused =
      "No VMI obtained from Sites to system 'wn': Error getting images from cloud: mycloud (HTTPConnectionPool(host='127.0.0.1', port=5000): Connection refused'))";
    sim.failNextLaunch(refused, 2);
    const sync = await call(sim.url, "POST", "/infrastructures", {
      headers: { ...krakeHeader, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual([sync.status, sync.body], [400, `Error Creating Inf.: ${refused}`]);
    const created = await call(sim.url, "POST", "/infrastructures?async=true", {
      headers: { ...krakeHeader, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual([created.status, created.body], [200, `${IM}/infrastructures/${FINF}`]);
    for (let poll = 0; poll < 3; poll += 1) {
      assert.equal(
        (await call(sim.url, "GET", `/infrastructures/${FINF}/state`, { headers: krakeHeader })).body,
        '{"state":{"state":"failed","vm_states":{}}}',
      );
    }
    const contmsg = await call(sim.url, "GET", `/infrastructures/${FINF}/contmsg`, { headers: krakeHeader });
    assert.match(
      contmsg.body,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}: Error getting VM images: No VMI obtained from Sites to system 'wn': .*Connection refused.*\n$/,
    );
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${FINF}/outputs`, { headers: krakeHeader })).body,
      '{"outputs":{"front_ip":null,"kubeconfig":"apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster:\\n    server: https://None:6443\\n"}}',
    );
    assert.deepEqual(
      [(await call(sim.url, "GET", `/infrastructures/${FINF}`, { headers: krakeHeader })).body],
      [""],
    );
    const list = await call(sim.url, "GET", "/infrastructures", { headers: krakeHeader });
    assert.equal(
      list.body,
      `${IM}/infrastructures/0a0a0a0a-e67a-11f1-8b87-374104366016\n${IM}/infrastructures/${FINF}`,
      "same IM username/password = same owner",
    );
    assert.equal(
      (await call(sim.url, "DELETE", `/infrastructures/${FINF}?async=true`, { headers: krakeHeader })).status,
      200,
    );
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${FINF}/state`, { headers: krakeHeader })).status,
      404,
    );
  });
});

describe("im.md §12 G: other calls", () => {
  it("matches", async (t) => {
    const sim = await simulator(t, [
      "6c3d4e5f-e67a-11f1-8b87-374104366016",
      "7d4e5f60-e67a-11f1-8b87-374104366016",
    ]);
    const body =
      '[{"class":"network","id":"net","outbound":"no"},{"class":"system","id":"node","cpu.count_min":1,"memory.size_min":536870912,"net_interface.0.connection":"net","disk.0.os.name":"linux","disk.0.image.url":"dummy://image"},{"class":"deploy","system":"node","vm_number":1},{"class":"contextualize","items":[]}]';
    const created = await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, ...JSON_ACCEPT, "content-type": "application/json" },
      body,
    });
    assert.equal(created.body, `{"uri":"${IM}/infrastructures/6c3d4e5f-e67a-11f1-8b87-374104366016"}`);
    const id = created.headers.infid as string;
    assert.equal(
      JSON.parse((await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH })).body).state
        .state,
      "configured",
    );
    const radl = JSON.parse(
      (await call(sim.url, "GET", `/infrastructures/${id}/radl`, { headers: { ...AUTH, ...JSON_ACCEPT } }))
        .body,
    ).radl as string;
    assert.ok(radl.startsWith("network net ( outbound = 'no' )\nsystem node (\n"), radl);
    await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    const filtered = await call(sim.url, "GET", "/infrastructures?filter=zzz", { headers: AUTH });
    assert.equal(filtered.body.split("\n").length, 2, "IM 2.0 ignores filter");
  });
});

describe("im.md §10: Krake 1.0.1's exact sequence", () => {
  it("create → poll → outputs → scale → reconfigure → delete → 404", async (t) => {
    const INF = "62f10cf0-e67a-11f1-8b87-374104366016";
    const sim = await simulator(t, [INF], {
      users: [{ username: "krake", password: "secret" }],
      delays: { ...INSTANT, create: 60_000 },
    });
    const krake = {
      authorization:
        "id = myprovider;username = krake;password = secret;type = InfrastructureManager\\nid = mycloud;type = Dummy",
      ...HOST,
    };
    const created = await call(sim.url, "POST", "/infrastructures?async=true", {
      headers: { ...krake, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual(
      [created.status, created.headers.infid, created.headers["content-type"], created.body],
      [200, INF, "text/uri-list; charset=utf-8", `${IM}/infrastructures/${INF}`],
    );
    const state = async () =>
      (await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: krake })).body;
    assert.equal(await state(), '{"state":{"state":"pending","vm_states":{}}}');
    await sim.flush();
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","1":"configured"}}}',
    );
    const outputs = await call(sim.url, "GET", `/infrastructures/${INF}/outputs`, { headers: krake });
    assert.equal(outputs.headers["content-type"], "application/json");
    assert.match(JSON.parse(outputs.body).outputs.kubeconfig, /server: https:\/\/10\.0\.0\.1:6443\n$/);
    const scaled = await call(sim.url, "POST", `/infrastructures/${INF}?async=true`, {
      headers: { ...krake, "content-type": "text/yaml" },
      body: k8sYaml(3),
    });
    assert.deepEqual(
      [scaled.status, scaled.body],
      [200, `${IM}/infrastructures/${INF}/vms/2\n${IM}/infrastructures/${INF}/vms/3`],
    );
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","1":"configured","2":"configured","3":"configured"}}}',
    );
    const reconfigured = await call(sim.url, "PUT", `/infrastructures/${INF}/reconfigure`, {
      headers: krake,
    });
    assert.deepEqual([reconfigured.status, reconfigured.headers.infid, reconfigured.body], [200, INF, ""]);
    assert.match(await state(), /^\{"state":\{"state":"configured"/);
    const deleted = await call(sim.url, "DELETE", `/infrastructures/${INF}?async=true`, { headers: krake });
    assert.deepEqual([deleted.status, deleted.body], [200, ""]);
    const gone = await waitFor("404", async () => {
      const answer = await call(sim.url, "GET", `/infrastructures/${INF}/state`, { headers: krake });
      return answer.status === 404 ? answer : undefined;
    });
    assert.equal(gone.body, "Error Getting Inf. prop: Deleted infrastructure.");
    assert.deepEqual(
      sim.requests.map((r) => `${r.method} ${r.path.replace(INF, "$INF")} ${r.status}`),
      [
        "POST /infrastructures?async=true 200",
        "GET /infrastructures/$INF/state 200",
        "GET /infrastructures/$INF/state 200",
        "GET /infrastructures/$INF/outputs 200",
        "POST /infrastructures/$INF?async=true 200",
        "GET /infrastructures/$INF/state 200",
        "PUT /infrastructures/$INF/reconfigure 200",
        "GET /infrastructures/$INF/state 200",
        "DELETE /infrastructures/$INF?async=true 200",
        "GET /infrastructures/$INF/state 404",
      ],
    );
  });
});

describe("im.md §1: IM 1.19.2 differences", () => {
  it("answers as the Flask-based 1.x does", async (t) => {
    const sim = await simulator(
      t,
      ["8e5f6071-e67a-11f1-8b87-374104366016", "9f607182-e67a-11f1-8b87-374104366016"],
      { version: "1.19.2" },
    );
    const version = await call(sim.url, "GET", "/version");
    assert.deepEqual([version.headers["content-type"], version.body], ["text/plain", "1.19.2"]);
    assert.equal(
      (await call(sim.url, "GET", "/version", { headers: JSON_ACCEPT })).body,
      '{"version": "1.19.2"}',
    );
    assert.equal(
      (await call(sim.url, "GET", "/infrastructures", { headers: JSON_ACCEPT })).body,
      '{"message": "No authentication data provided", "code": 401}',
    );
    const badId = await call(sim.url, "GET", "/infrastructures", {
      headers: { authorization: "id = 1x; type = InfrastructureManager; username = a; password = b" },
    });
    assert.deepEqual([badId.status, badId.body], [401, "No authentication data provided"]);
    const maybe = await call(sim.url, "POST", "/infrastructures?async=maybe", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual([maybe.status, maybe.body], [400, "Incorrect value in async parameter"]);
    const tosca = await call(sim.url, "POST", "/infrastructures?async=YES", {
      headers: { ...AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.deepEqual([tosca.status, tosca.headers["content-type"]], [200, "text/uri-list"]);
    const id = tosca.headers.infid as string;
    const foo = await call(sim.url, "GET", `/infrastructures/${id}/foo`, { headers: AUTH });
    assert.deepEqual([foo.status, foo.body], [404, "Incorrect infrastructure property"]);
    const state = await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: AUTH });
    assert.equal(
      state.body,
      '{"state": {"state": "configured", "vm_states": {"0": "configured", "1": "configured"}}}',
    );
    const radl = await call(sim.url, "POST", "/infrastructures", {
      headers: { ...AUTH, "content-type": "text/plain" },
      body: SIMPLE_RADL,
    });
    const outputs = await call(sim.url, "GET", `/infrastructures/${radl.headers.infid}/outputs`, {
      headers: AUTH,
    });
    assert.deepEqual(
      [outputs.status, outputs.body],
      [
        400,
        "Error Getting Inf. prop: 403 Forbidden: 'outputs' infrastructure property is not valid in this infrastructure",
      ],
    );
    assert.equal(
      (await call(sim.url, "GET", "/infrastructures?filter=private_net", { headers: AUTH })).body,
      `${IM}/infrastructures/${id}`,
    );
    assert.equal((await call(sim.url, "GET", "/infrastructures?filter=zzz", { headers: AUTH })).body, "");
    const list = await call(sim.url, "GET", "/infrastructures", {
      headers: { ...AUTH, accept: "text/plain" },
    });
    assert.deepEqual([list.status, list.body], [415, "Unsupported Accept Media Types: text/plain"]);
    const missing = await call(sim.url, "GET", "/nope");
    assert.deepEqual(
      [missing.status, missing.body],
      [
        404,
        "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
      ],
    );
  });
});
