/**
 * The simulator's REST surface, endpoint by endpoint: authentication errors, ownership, content negotiation
 * (uri-list / JSON / HTML / 415), validation (422) and routing (404/405/307), and the RADL, VM, TOSCA, data,
 * authorization and cloud endpoints — all through real HTTP with exactly the headers each test sets.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { startImSimulator, type ImSimulator, type ImSimulatorOptions } from "./server.js";
import {
  ADD_RADL,
  DEMO_AUTH,
  INSTANT,
  SIMPLE_RADL,
  TEST_AUTH,
  call,
  k8sYaml,
  waitFor,
} from "./test-support.js";

const JSON_ACCEPT = { accept: "application/json" };
const OTHER_AUTH =
  "id = im; type = InfrastructureManager; username = other; password = demopass\\nid = dummy; type = Dummy";

async function simulator(t: TestContext, options: ImSimulatorOptions = {}): Promise<ImSimulator> {
  const sim = await startImSimulator({ delays: INSTANT, ...options });
  t.after(() => sim.close());
  return sim;
}

async function createTosca(sim: ImSimulator, auth = TEST_AUTH, query = ""): Promise<string> {
  const answer = await call(sim.url, "POST", `/infrastructures${query}`, {
    headers: { authorization: auth, "content-type": "text/yaml" },
    body: k8sYaml(),
  });
  assert.equal(answer.status, 200, answer.body);
  return answer.headers.infid as string;
}

describe("version and authentication", () => {
  it("answers /version without credentials, as text or JSON", async (t) => {
    const sim = await simulator(t);
    const text = await call(sim.url, "GET", "/version");
    assert.deepEqual(
      [text.status, text.headers["content-type"], text.body],
      [200, "text/plain; charset=utf-8", "2.0.0"],
    );
    const json = await call(sim.url, "GET", "/version", { headers: JSON_ACCEPT });
    assert.deepEqual([json.headers["content-type"], json.body], ["application/json", '{"version":"2.0.0"}']);
  });

  it("answers 401 without an Authorization header, in text, JSON or HTML", async (t) => {
    const sim = await simulator(t);
    const text = await call(sim.url, "GET", "/infrastructures");
    assert.deepEqual(
      [text.status, text.headers["content-type"], text.body],
      [401, "text/plain; charset=utf-8", "No authentication data provided"],
    );
    const json = await call(sim.url, "GET", "/infrastructures", { headers: JSON_ACCEPT });
    assert.equal(json.body, '{"message":"No authentication data provided","code":401}');
    const html = await call(sim.url, "GET", "/infrastructures", { headers: { accept: "text/html" } });
    assert.equal(html.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(
      html.body,
      '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html>\n    <head>\n        <title>Error 401.</title>\n    </head>\n    <body>\n        <h1>Code: 401.</h1>\n        <h1>Message: No authentication data provided</h1>\n    </body>\n</html>\n',
    );
  });

  it("answers 401 when the header has no IM line, is garbage, is Basic, or names an unknown user", async (t) => {
    const sim = await simulator(t);
    const list = (authorization: string) =>
      call(sim.url, "GET", "/infrastructures", { headers: { authorization } });
    const noIm = "Error Getting Inf. List: No credentials provided for the InfrastructureManager.";
    for (const header of [
      "id = dummy; type = Dummy",
      "garbage",
      `Basic ${Buffer.from("test:test").toString("base64")}`,
    ]) {
      const answer = await list(header);
      assert.deepEqual([answer.status, answer.body], [401, noIm], header);
    }
    const wrong = await list("id = im; type = InfrastructureManager; username = test; password = nope");
    assert.deepEqual(
      [wrong.status, wrong.body],
      [401, "Error Getting Inf. List: Invalid InfrastructureManager credentials"],
    );
  });

  it("answers 500 for an id IM's parser rejects (every call fails)", async (t) => {
    const sim = await simulator(t);
    const answer = await call(sim.url, "GET", "/infrastructures", {
      headers: { authorization: "id = 1im; type = InfrastructureManager; username = test; password = test" },
    });
    assert.deepEqual([answer.status, answer.body], [500, "Incorrect value in auth item id: 1im"]);
  });

  it("answers 400, not 401, on property endpoints without IM credentials (IM catches it generically there)", async (t) => {
    const sim = await simulator(t);
    const id = await createTosca(sim);
    const answer = await call(sim.url, "GET", `/infrastructures/${id}/state`, {
      headers: { authorization: "id = d; type = Dummy" },
    });
    assert.deepEqual(
      [answer.status, answer.body],
      [400, "Error Getting Inf. prop: No credentials provided for the InfrastructureManager."],
    );
  });

  it("accepts OIDC tokens it was configured with, and owns by subject", async (t) => {
    const sim = await simulator(t, { tokens: [{ token: "tok-1", subject: "alice" }] });
    const auth = "id = im; type = InfrastructureManager; token = tok-1\\nid = dummy; type = Dummy";
    const id = await createTosca(sim, auth);
    assert.deepEqual(sim.infrastructure(id)?.owners, ["__OPENID__alice"]);
    const bad = await call(sim.url, "GET", "/infrastructures", {
      headers: { authorization: "type = InfrastructureManager; token = other" },
    });
    assert.equal(bad.status, 401);
  });
});

describe("ownership", () => {
  it("refuses other identities with 403 and lists nothing for them; the id of the IM line does not matter", async (t) => {
    const sim = await simulator(t, { users: "any" });
    const id = await createTosca(sim, DEMO_AUTH);
    const other = { authorization: OTHER_AUTH };
    const state = await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: other });
    assert.deepEqual(
      [state.status, state.body],
      [403, "Error Getting Inf. prop: Access to this infrastructure not granted."],
    );
    const info = await call(sim.url, "GET", `/infrastructures/${id}`, { headers: other });
    assert.deepEqual(
      [info.status, info.body],
      [403, "Error Getting Inf. info: Access to this infrastructure not granted."],
    );
    const del = await call(sim.url, "DELETE", `/infrastructures/${id}`, { headers: other });
    assert.deepEqual(
      [del.status, del.body],
      [403, "Error Destroying Inf: Access to this infrastructure not granted."],
    );
    const list = await call(sim.url, "GET", "/infrastructures", { headers: other });
    assert.deepEqual([list.status, list.headers["content-length"], list.body], [200, "0", ""]);
    const sameUser = DEMO_AUTH.replace("id = im", "id = another_id");
    assert.equal(
      (await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: { authorization: sameUser } }))
        .status,
      200,
    );
  });

  it("answers 404 for unknown ids", async (t) => {
    const sim = await simulator(t);
    const answer = await call(sim.url, "GET", "/infrastructures/doesnotexist/state", {
      headers: { authorization: TEST_AUTH, ...JSON_ACCEPT },
    });
    assert.equal(answer.status, 404);
    assert.equal(
      answer.body,
      '{"message":"Error Getting Inf. prop: Invalid infrastructure ID or access not granted.","code":404}',
    );
  });
});

describe("content negotiation", () => {
  it("lists as text/uri-list without a trailing newline, or as JSON", async (t) => {
    const sim = await simulator(t);
    const a = await createTosca(sim);
    const b = await createTosca(sim);
    const text = await call(sim.url, "GET", "/infrastructures", { headers: { authorization: TEST_AUTH } });
    assert.equal(text.headers["content-type"], "text/uri-list; charset=utf-8");
    assert.equal(text.body, `${sim.url}/infrastructures/${a}\n${sim.url}/infrastructures/${b}`);
    const json = await call(sim.url, "GET", "/infrastructures", {
      headers: { authorization: TEST_AUTH, accept: "application/*" },
    });
    assert.deepEqual(JSON.parse(json.body), {
      "uri-list": [{ uri: `${sim.url}/infrastructures/${a}` }, { uri: `${sim.url}/infrastructures/${b}` }],
    });
  });

  it("builds URIs from the request's Host header", async (t) => {
    const sim = await simulator(t);
    const answer = await call(sim.url, "POST", "/infrastructures", {
      headers: { authorization: TEST_AUTH, "content-type": "text/yaml", host: "im.example.org:8800" },
      body: k8sYaml(),
    });
    assert.equal(answer.body, `http://im.example.org:8800/infrastructures/${answer.headers.infid}`);
  });

  it("answers 415 with the list's repr for a non-JSON Accept on /state, /outputs, /data", async (t) => {
    const sim = await simulator(t);
    const id = await createTosca(sim);
    for (const prop of ["state", "outputs", "data"]) {
      const answer = await call(sim.url, "GET", `/infrastructures/${id}/${prop}`, {
        headers: { authorization: TEST_AUTH, accept: "text/plain" },
      });
      assert.deepEqual(
        [answer.status, answer.body],
        [415, "Unsupported Accept Media Types: ['text/plain']"],
        prop,
      );
    }
    const mixed = await call(sim.url, "GET", `/infrastructures/${id}/state`, {
      headers: { authorization: TEST_AUTH, accept: "text/plain, application/json;q=0.9" },
    });
    assert.equal(mixed.status, 200);
    assert.equal(mixed.headers["content-type"], "application/json");
  });

  it("turns a negotiation failure into IM's 400 on endpoints without an HTTPException pass-through", async (t) => {
    const sim = await simulator(t);
    const list = await call(sim.url, "GET", "/infrastructures", {
      headers: { authorization: TEST_AUTH, accept: "text/plain" },
    });
    assert.deepEqual(
      [list.status, list.body],
      [400, "Error Getting Inf. List: 415: Unsupported Accept Media Types: text/plain"],
    );
    const id = await createTosca(sim);
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, {
      headers: { authorization: TEST_AUTH, accept: "image/png" },
    });
    assert.deepEqual([contmsg.status, contmsg.body], [415, "Unsupported Accept Media Types: image/png"]);
  });

  it("rejects unsupported body types with 415 and reads every TOSCA spelling", async (t) => {
    const sim = await simulator(t);
    for (const type of ["application/xml", "application/x-www-form-urlencoded"]) {
      const answer = await call(sim.url, "POST", "/infrastructures", {
        headers: { authorization: TEST_AUTH, "content-type": type },
        body: "x",
      });
      assert.deepEqual([answer.status, answer.body], [415, `Unsupported Media Type ['${type}']`]);
    }
    for (const type of ["text/yaml; charset=utf-8", "text/x-yaml", "application/yaml"]) {
      const answer = await call(sim.url, "POST", "/infrastructures", {
        headers: { authorization: TEST_AUTH, "content-type": type },
        body: k8sYaml(),
      });
      assert.equal(answer.status, 200, type);
    }
  });

  it("answers 400 'Error parsing request body' for bad TOSCA and bad RADL", async (t) => {
    const sim = await simulator(t);
    const tosca = await call(sim.url, "POST", "/infrastructures", {
      headers: { authorization: TEST_AUTH, "content-type": "text/yaml", ...JSON_ACCEPT },
      body: "topology_template: {}\n",
    });
    assert.equal(tosca.status, 400);
    assert.deepEqual(JSON.parse(tosca.body), {
      message:
        'Error parsing request body: Error parsing TOSCA template: \nThe pre-parsed input failed validation with the following error(s): \n\n\tMissingRequiredFieldError: Template is missing required field "tosca_definitions_version".',
      code: 400,
    });
    const radl = await call(sim.url, "POST", "/infrastructures", {
      headers: { authorization: TEST_AUTH, ...JSON_ACCEPT },
      body: "system node (",
    });
    assert.deepEqual(
      [radl.status, radl.body],
      [400, '{"message":"Error parsing request body: Parse error in: None","code":400}'],
    );
  });
});

describe("validation and routing", () => {
  it("answers FastAPI's 422 for bad booleans and unknown properties (pydantic 1 form by default)", async (t) => {
    const sim = await simulator(t);
    const bool = await call(sim.url, "POST", "/infrastructures?async=maybe", {
      headers: { authorization: TEST_AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.equal(bool.status, 422);
    assert.equal(bool.headers["content-type"], "application/json");
    assert.equal(
      bool.body,
      '{"detail":[{"loc":["query","async"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}',
    );
    const id = await createTosca(sim);
    const prop = await call(sim.url, "GET", `/infrastructures/${id}/foo?headeronly=x`, {
      headers: { authorization: TEST_AUTH },
    });
    assert.equal(prop.status, 422);
    const detail = JSON.parse(prop.body).detail;
    assert.deepEqual(detail[0].loc, ["path", "prop"]);
    assert.equal(
      detail[0].msg,
      "unexpected value; permitted: 'contmsg', 'radl', 'tosca', 'state', 'outputs', 'data', 'authorization'",
    );
    assert.deepEqual(detail[1], {
      loc: ["query", "headeronly"],
      msg: "value could not be parsed to a boolean",
      type: "type_error.bool",
    });
    assert.equal(sim.infrastructures().length, 1, "the rejected create made nothing");
  });

  it("uses pydantic 2 items on request", async (t) => {
    const sim = await simulator(t, { validationErrors: "pydantic2" });
    const answer = await call(sim.url, "DELETE", "/infrastructures/x?force=maybe", {
      headers: { authorization: TEST_AUTH },
    });
    assert.deepEqual(JSON.parse(answer.body), {
      detail: [
        {
          type: "bool_parsing",
          loc: ["query", "force"],
          msg: "Input should be a valid boolean, unable to interpret input",
          input: "maybe",
        },
      ],
    });
    const op = await call(sim.url, "PUT", "/infrastructures/x/pause", {
      headers: { authorization: TEST_AUTH },
    });
    assert.equal(JSON.parse(op.body).detail[0].msg, "Input should be 'start' or 'stop'");
  });

  it("accepts pydantic's boolean spellings and ignores async on POST /infrastructures/<id>", async (t) => {
    const sim = await simulator(t);
    for (const value of ["true", "1", "yes", "on", "T", "Y"]) {
      const answer = await call(sim.url, "POST", `/infrastructures?async=${value}`, {
        headers: { authorization: TEST_AUTH, "content-type": "text/yaml" },
        body: k8sYaml(),
      });
      assert.equal(answer.status, 200, value);
    }
    const id = await createTosca(sim);
    const add = await call(sim.url, "POST", `/infrastructures/${id}?async=whatever`, {
      headers: { authorization: TEST_AUTH, "content-type": "text/yaml" },
      body: k8sYaml(),
    });
    assert.equal(add.status, 200);
  });

  it("answers Starlette's 404, 405 and trailing-slash redirect", async (t) => {
    const sim = await simulator(t);
    const missing = await call(sim.url, "GET", "/nope");
    assert.deepEqual(
      [missing.status, missing.headers["content-type"], missing.body],
      [404, "application/json", '{"detail":"Not Found"}'],
    );
    const method = await call(sim.url, "PATCH", "/infrastructures");
    assert.deepEqual(
      [method.status, method.headers.allow, method.body],
      [405, "GET, POST, PUT", '{"detail":"Method Not Allowed"}'],
    );
    const slash = await call(sim.url, "GET", "/infrastructures/?x=1");
    assert.deepEqual([slash.status, slash.headers.location], [307, `${sim.url}/infrastructures?x=1`]);
  });
});

describe("RADL infrastructures and VM endpoints", () => {
  it("runs im.md §12 D: RADL create, add, VM delete, stop/start, reconfigure, resize", async (t) => {
    const sim = await simulator(t);
    const auth = { authorization: TEST_AUTH };
    const created = await call(sim.url, "POST", "/infrastructures?async=1", {
      headers: { ...auth, ...JSON_ACCEPT, "content-type": "text/plain" },
      body: SIMPLE_RADL,
    });
    const id = created.headers.infid as string;
    assert.equal(created.body, `{"uri":"${sim.url}/infrastructures/${id}"}`);
    const state = async () =>
      (await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: auth })).body;
    assert.equal(await state(), '{"state":{"state":"configured","vm_states":{"0":"configured"}}}');
    const outputs = await call(sim.url, "GET", `/infrastructures/${id}/outputs`, {
      headers: { ...auth, ...JSON_ACCEPT },
    });
    assert.deepEqual(
      [outputs.status, outputs.body],
      [403, `{"message":"'outputs' infrastructure property is not valid in this infrastructure","code":403}`],
    );
    const tosca = await call(sim.url, "GET", `/infrastructures/${id}/tosca`, { headers: auth });
    assert.deepEqual(
      [tosca.status, tosca.body],
      [403, "'tosca' infrastructure property is not valid in this infrastructure"],
    );
    const radl = await call(sim.url, "GET", `/infrastructures/${id}/radl`, { headers: auth });
    assert.match(
      radl.body,
      /^network net \( outbound = 'no' \)\nsystem node \(\ncpu.count >= 1 and\nmemory.size >= 512M and\n/,
    );
    const radlJson = await call(sim.url, "GET", `/infrastructures/${id}/radl`, {
      headers: { ...auth, ...JSON_ACCEPT },
    });
    assert.equal(JSON.parse(radlJson.body).radl, radl.body);
    const contmsg = await call(sim.url, "GET", `/infrastructures/${id}/contmsg`, { headers: auth });
    assert.equal(contmsg.body, "Contextualization disabled by the RADL/TOSCA template.\n\n");

    const added = await call(sim.url, "POST", `/infrastructures/${id}`, {
      headers: { ...auth, "content-type": "text/plain" },
      body: ADD_RADL,
    });
    assert.equal(added.headers.infid, id);
    assert.equal(
      added.body,
      `${sim.url}/infrastructures/${id}/vms/1\n${sim.url}/infrastructures/${id}/vms/2`,
    );
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","1":"configured","2":"configured"}}}',
    );

    const del = await call(sim.url, "DELETE", `/infrastructures/${id}/vms/1`, { headers: auth });
    assert.deepEqual([del.status, del.body], [200, ""]);
    const again = await call(sim.url, "DELETE", `/infrastructures/${id}/vms/1`, { headers: auth });
    assert.deepEqual([again.status, again.body], [404, "Error Removing resources: Deleted VM."]);
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","2":"configured"}}}',
    );

    assert.equal((await call(sim.url, "PUT", `/infrastructures/${id}/stop`, { headers: auth })).status, 200);
    assert.equal(await state(), '{"state":{"state":"stopped","vm_states":{"0":"stopped","2":"stopped"}}}');
    assert.equal((await call(sim.url, "PUT", `/infrastructures/${id}/start`, { headers: auth })).status, 200);
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","2":"configured"}}}',
    );
    assert.equal(
      (await call(sim.url, "PUT", `/infrastructures/${id}/vms/2/stop`, { headers: auth })).status,
      200,
    );
    assert.equal(
      await state(),
      '{"state":{"state":"configured","vm_states":{"0":"configured","2":"stopped"}}}',
    );
    for (const op of ["start", "reboot"]) {
      assert.equal(
        (await call(sim.url, "PUT", `/infrastructures/${id}/vms/2/${op}`, { headers: auth })).status,
        200,
      );
    }
    const reconfigure = await call(sim.url, "PUT", `/infrastructures/${id}/reconfigure`, { headers: auth });
    assert.deepEqual([reconfigure.status, reconfigure.headers.infid, reconfigure.body], [200, id, ""]);
    assert.match(await state(), /"state":"configured"/);

    const resized = await call(sim.url, "PUT", `/infrastructures/${id}/vms/2`, {
      headers: { ...auth, "content-type": "text/plain" },
      body: "system node ( cpu.count >= 4 and memory.size >= 4096m )",
    });
    assert.equal(resized.status, 200);
    assert.match(resized.body, /cpu\.count >= 4 and/);
    assert.match(resized.body, /memory\.size >= 4096M and/);
  });

  it("answers VM info as RADL text or RADL-JSON, properties, and IM's VM errors", async (t) => {
    const sim = await simulator(t);
    const id = await createTosca(sim);
    const auth = { authorization: TEST_AUTH };
    const text = await call(sim.url, "GET", `/infrastructures/${id}/vms/0`, { headers: auth });
    assert.equal(text.headers["content-type"], "text/plain; charset=utf-8");
    assert.match(
      text.body,
      /^network private_net \( outbound = 'no' \)\nsystem front \(\ninstance_name = 'front' and\n/,
    );
    assert.match(text.body, /state = 'configured' and\nprovider.type = 'Dummy' and/);
    assert.match(text.body, /net_interface.0.ip = '10.0.0.1'/);
    assert.match(text.body, /net_interface.0.dns_name = 'vnode-0'\n\)$/);
    const json = JSON.parse(
      (await call(sim.url, "GET", `/infrastructures/${id}/vms/0`, { headers: { ...auth, ...JSON_ACCEPT } }))
        .body,
    );
    assert.deepEqual(json.radl[0], { class: "network", id: "private_net", outbound: "no" });
    assert.equal(json.radl[1]["cpu.count_min"], 2);
    assert.equal(json.radl[1]["memory.size_min"], 2000000000);
    assert.equal(json.radl[1].state, "configured");

    const vmState = await call(sim.url, "GET", `/infrastructures/${id}/vms/0/state`, { headers: auth });
    assert.deepEqual(
      [vmState.headers["content-type"], vmState.body],
      ["text/plain; charset=utf-8", "configured"],
    );
    const ip = await call(sim.url, "GET", `/infrastructures/${id}/vms/0/net_interface.0.ip`, {
      headers: { ...auth, ...JSON_ACCEPT },
    });
    assert.equal(ip.body, '{"net_interface.0.ip":"10.0.0.1"}');
    const cpus = await call(sim.url, "GET", `/infrastructures/${id}/vms/0/cpu.count`, {
      headers: { ...auth, ...JSON_ACCEPT },
    });
    assert.equal(cpus.body, '{"cpu.count":2}');
    const nonexistent = await call(sim.url, "GET", `/infrastructures/${id}/vms/0/nonexistent`, {
      headers: auth,
    });
    assert.deepEqual(
      [nonexistent.status, nonexistent.body],
      [404, "Incorrect property nonexistent for VM ID 0"],
    );
    const noVm = await call(sim.url, "GET", `/infrastructures/${id}/vms/99`, { headers: auth });
    assert.deepEqual([noVm.status, noVm.body], [404, "Error Getting VM. info: Invalid VM ID"]);
    const badStep = await call(sim.url, "GET", `/infrastructures/${id}/vms/0/state?step=x`, {
      headers: auth,
    });
    assert.equal(badStep.status, 422);
    const badOp = await call(sim.url, "PUT", `/infrastructures/${id}/vms/0/explode`, { headers: auth });
    assert.equal(
      JSON.parse(badOp.body).detail[0].msg,
      "unexpected value; permitted: 'start', 'stop', 'reboot'",
    );
  });
});

describe("other infrastructure endpoints", () => {
  it("serves /tosca (sorted keys), /authorization, and adds owners", async (t) => {
    const sim = await simulator(t, { users: "any" });
    const id = await createTosca(sim, DEMO_AUTH);
    const auth = { authorization: DEMO_AUTH };
    const tosca = await call(sim.url, "GET", `/infrastructures/${id}/tosca`, { headers: auth });
    assert.equal(tosca.status, 200);
    assert.match(tosca.body, /^topology_template:\n {2}node_templates:\n {4}front:\n/);
    assert.match(tosca.body, /\ntosca_definitions_version: tosca_simple_yaml_1_0\n$/);
    const toscaJson = JSON.parse(
      (await call(sim.url, "GET", `/infrastructures/${id}/tosca`, { headers: { ...auth, ...JSON_ACCEPT } }))
        .body,
    );
    assert.equal(toscaJson.tosca, tosca.body);
    const owners = await call(sim.url, "GET", `/infrastructures/${id}/authorization`, { headers: auth });
    assert.equal(owners.body, "demo");
    const grant = await call(sim.url, "POST", `/infrastructures/${id}/authorization`, {
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ username: "other", password: "demopass" }),
    });
    assert.equal(grant.status, 200);
    const ownersJson = await call(sim.url, "GET", `/infrastructures/${id}/authorization`, {
      headers: { ...auth, ...JSON_ACCEPT },
    });
    assert.equal(ownersJson.body, '{"authorization":["demo","other"]}');
    const asOther = await call(sim.url, "GET", `/infrastructures/${id}/state`, {
      headers: { authorization: OTHER_AUTH },
    });
    assert.equal(asOther.status, 200);
  });

  it("exports with /data?delete=true (then 404) and imports the same id back", async (t) => {
    const sim = await simulator(t);
    const id = await createTosca(sim);
    const auth = { authorization: TEST_AUTH };
    const exported = await call(sim.url, "GET", `/infrastructures/${id}/data?delete=true`, { headers: auth });
    assert.equal(exported.status, 200);
    const data = JSON.parse(exported.body).data as string;
    assert.equal(typeof data, "string");
    assert.equal((await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: auth })).status, 404);
    const imported = await call(sim.url, "PUT", "/infrastructures", {
      headers: { ...auth, "content-type": "application/json" },
      body: data,
    });
    assert.deepEqual([imported.status, imported.body], [200, `${sim.url}/infrastructures/${id}`]);
    assert.equal((await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: auth })).status, 200);
  });

  it("answers cloud quotas and images like the Dummy connector, dry runs, stats and the OpenAPI document", async (t) => {
    const sim = await simulator(t);
    const auth = { authorization: TEST_AUTH };
    const quotas = await call(sim.url, "GET", "/clouds/dummy/quotas", { headers: auth });
    assert.deepEqual(JSON.parse(quotas.body).quotas.cores, { used: 1, limit: 10 });
    const images = await call(sim.url, "GET", "/clouds/dummy/images", { headers: auth });
    assert.deepEqual(JSON.parse(images.body).images[0], {
      uri: "mock0://linux.for.ev.er/image1",
      name: "Image Name1",
    });
    const unknown = await call(sim.url, "GET", "/clouds/nope/quotas", { headers: auth });
    assert.deepEqual(
      [unknown.status, unknown.body],
      [400, "Error getting cloud info: Cloud ID nope not found."],
    );
    const dry = await call(sim.url, "POST", "/infrastructures?dry_run=true", {
      headers: { ...auth, "content-type": "text/yaml" },
      body: k8sYaml(2),
    });
    assert.deepEqual(JSON.parse(dry.body), {
      dummy: {
        cloudType: "Dummy",
        cloudEndpoint: "",
        compute: [
          { cpuCores: 2, memoryInMegabytes: 2000, diskSizeInGigabytes: 0 },
          { cpuCores: 1, memoryInMegabytes: 0, diskSizeInGigabytes: 0 },
          { cpuCores: 1, memoryInMegabytes: 0, diskSizeInGigabytes: 0 },
        ],
        storage: [],
      },
    });
    assert.equal(sim.infrastructures().length, 0, "a dry run creates nothing");
    assert.equal((await call(sim.url, "GET", "/stats", { headers: auth })).body, '{"stats":[]}');
    const openapi = JSON.parse((await call(sim.url, "GET", "/openapi.json")).body);
    assert.ok(openapi.paths["/infrastructures/{infid}/{prop}"]);
  });

  it("serves the request's DELETE as an empty text/plain 200 and forgets the id after a sync delete", async (t) => {
    const sim = await simulator(t);
    const id = await createTosca(sim);
    const auth = { authorization: TEST_AUTH };
    const del = await call(sim.url, "DELETE", `/infrastructures/${id}`, { headers: auth });
    assert.deepEqual(
      [del.status, del.headers["content-type"], del.headers["content-length"], del.body],
      [200, "text/plain; charset=utf-8", "0", ""],
    );
    const after = await call(sim.url, "GET", `/infrastructures/${id}/state`, { headers: auth });
    assert.deepEqual(
      [after.status, after.body],
      [404, "Error Getting Inf. prop: Invalid infrastructure ID or access not granted."],
    );
    await waitFor("empty list", async () =>
      (await call(sim.url, "GET", "/infrastructures", { headers: auth })).body === "" ? true : undefined,
    );
  });
});
