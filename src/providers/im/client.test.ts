/**
 * The IM client against the IM simulator, as IM 2.0.0 and as IM 1.19.2: every call the controller makes and
 * every error path of im.md §8 and §11.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { startImSimulator, type ImSimulator } from "../../sandbox/im/server.js";
import { ProviderError } from "../provider.js";
import { imAuthorization } from "./auth.js";
import { ImProvider, MARKER_KEY, toscaText } from "./client.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples/", import.meta.url));
const tosca = (file: string) => parse(readFileSync(EXAMPLES + file, "utf8")) as Record<string, unknown>;

const IM_USER = { id: "im", username: "test", password: "test" };
const CLOUD = {
  id: "ost",
  url: "https://keystone.example.com:5000/v3",
  version: "3",
  username: "demo",
  password: "secret;with=specials",
  userDomainName: "Default",
  project: "demo",
  projectDomainId: "default",
};

/** Copies of a template with `wn_num`'s default changed (what `-scale-up`/`-down` do). */
function withWorkers(doc: Record<string, unknown>, n: number, removal?: string[]): Record<string, unknown> {
  const copy = structuredClone(doc) as any;
  copy.topology_template.inputs.wn_num.default = n;
  const props = copy.topology_template.node_templates.wn.capabilities.scalable.properties;
  if (removal) props.removal_list = removal;
  else delete props.removal_list;
  return copy;
}

async function rejects(promise: Promise<unknown>, kind: ProviderError["kind"], message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

for (const version of ["2.0.0", "1.19.2"] as const) {
  describe(`IM client against IM ${version}`, () => {
    let im: ImSimulator;
    let client: ImProvider;
    const base = tosca("im-cluster.yaml");

    before(async () => {
      im = await startImSimulator({
        version,
        delays: { create: 0, pending: 60_000, running: 60_000, configure: 60_000, delete: 60_000, add: 0 },
        kubernetesUrl: "https://10.0.0.1:6443",
      });
      client = new ImProvider({ url: im.url, authorization: imAuthorization(IM_USER, CLOUD) });
    });
    after(() => im.close());
    afterEach(() => im.clearFailures());

    /** Creates one infrastructure and walks it to `configured`. */
    async function configured(marker: string): Promise<string> {
      const id = await client.create(base, marker);
      await im.flush();
      assert.equal((await client.status(id)).phase, "ready");
      return id;
    }

    it("creates asynchronously with JSON, text/yaml and the marker; the id comes from InfID", async () => {
      im.clearRequests();
      const id = await client.create(base, "uid-create");
      const req = im.requests.find((r) => r.op === "create")!;
      assert.equal(req.method, "POST");
      assert.match(req.path, /^\/infrastructures\?async=true$/);
      assert.equal(req.headers.accept, "application/json");
      assert.equal(req.headers["content-type"], "text/yaml");
      assert.equal((parse(req.body) as any).metadata[MARKER_KEY], "uid-create");
      assert.equal(im.infrastructure(id)?.createdAsync, true);
      // The OpenStack line went through as IM parsed it (secrets masked in the log).
      assert.ok(req.auth?.some((item) => item.type === "OpenStack" && item.username === "demo"));
    });

    it("follows pending (no VMs) → running → configured, one step at a time", async () => {
      const id = await client.create(base, "uid-steps");
      const seen: string[] = [];
      for (let i = 0; i < 100; i++) {
        const s = await client.status(id);
        if (seen.at(-1) !== s.phase) seen.push(s.phase);
        if (s.phase === "ready") break;
        await im.flush(1);
      }
      assert.deepEqual(seen, ["pending", "creating", "ready"]);
      const s = await client.status(id);
      assert.equal(s.detail, "configured");
      assert.deepEqual(Object.keys(s.machines).sort(), ["0", "1"]);
    });

    it("refuses the kubeconfig while IM's outputs still hold None, returns it once configured", async () => {
      const id = await client.create(base, "uid-kubeconfig");
      await rejects(client.kubeconfig(id), "invalid", /no usable cluster server|no 'kubeconfig' output/);
      await im.flush();
      const kc = (await client.kubeconfig(id)) as any;
      assert.equal(kc.clusters[0].cluster.server, "https://10.0.0.1:6443");
    });

    it("finds an infrastructure by its marker, and nothing for an unknown one", async () => {
      const id = await client.create(base, "uid-find");
      assert.equal(await client.findByMarker("uid-find"), id);
      assert.equal(await client.findByMarker("uid-nobody"), null);
      // Another IM user's infrastructures are not even listed.
      const other = new ImProvider({
        url: im.url,
        authorization: imAuthorization({ id: "im", username: "test", password: "wrong" }, CLOUD),
      });
      await rejects(other.findByMarker("uid-find"), "unauthorized");
    });

    it("scales up and down by re-posting the TOSCA, removing exactly the listed VM", async () => {
      const id = await configured("uid-scale");
      await client.update(id, withWorkers(base, 2), "uid-scale");
      await im.flush();
      assert.deepEqual(
        im.infrastructure(id)!.vms.map((v) => v.id),
        [0, 1, 2],
      );
      await client.update(id, withWorkers(base, 1, ["1"]), "uid-scale");
      await im.flush();
      assert.deepEqual(
        im.infrastructure(id)!.vms.map((v) => v.id),
        [0, 2],
      );
      assert.equal((await client.status(id)).phase, "ready");
    });

    it("a later scale-down without removal_list removes the oldest worker despite IM's sticky list", async () => {
      const id = await configured("uid-sticky");
      await client.update(id, withWorkers(base, 2), "uid-sticky");
      await client.update(id, withWorkers(base, 1, ["1"]), "uid-sticky"); // IM now stores removal_list [1]
      await client.update(id, withWorkers(base, 3), "uid-sticky");
      await im.flush();
      assert.deepEqual(
        im.infrastructure(id)!.vms.map((v) => v.id),
        [0, 2, 3, 4],
      );
      // Without a list IM would try VM 1 again (long gone) and fail; the client sends the oldest workers.
      await client.update(id, withWorkers(base, 1), "uid-sticky");
      await im.flush();
      assert.deepEqual(
        im.infrastructure(id)!.vms.map((v) => v.id),
        [0, 4],
      );
      const stored = parse(im.infrastructure(id)!.storedTosca!) as any;
      assert.deepEqual(
        stored.topology_template.node_templates.wn.capabilities.scalable.properties.removal_list.map(String),
        ["2", "3"],
      );
    });

    it("an unconfigured VM is degraded with IM's message; reconfigure repairs it", async () => {
      const id = await configured("uid-unconf");
      im.makeUnconfigured(id, 1, { message: "ansible: kubeadm join failed" });
      const s = await client.status(id);
      assert.equal(s.phase, "degraded");
      assert.match(s.message ?? "", /kubeadm join failed/);
      await client.reconfigure(id);
      await im.flush();
      assert.equal((await client.status(id)).phase, "ready");
    });

    it("a running aggregate that hides an unconfigured VM is degraded only once nothing still runs", async () => {
      const id = await configured("uid-mask");
      im.makeUnconfigured(id, 1);
      im.setVmState(id, 0, "running");
      assert.equal((await client.status(id)).phase, "creating");
      im.setVmState(id, 0, "configured");
      assert.equal((await client.status(id)).phase, "degraded");
    });

    it("a failed infrastructure is failed with the tail of /contmsg", async () => {
      const id = await configured("uid-failed");
      im.failInfrastructure(id, "OpenStack: quota exceeded for instances");
      const s = await client.status(id);
      assert.equal(s.phase, "failed");
      assert.match(s.message ?? "", /quota exceeded/);
    });

    it("an unknown VM state is transient", async () => {
      const id = await configured("uid-unknown");
      im.setVmState(id, 1, "unknown");
      const s = await client.status(id);
      assert.equal(s.phase, "creating");
      assert.equal(s.machines["1"], "unknown");
    });

    it("deletes asynchronously, then the infrastructure is not found; deleting again is not an error", async () => {
      const id = await configured("uid-delete");
      await client.delete(id);
      assert.equal((await client.status(id)).phase, "deleting");
      await im.flush();
      await rejects(client.status(id), "not-found");
      await client.delete(id);
    });

    it("classifies IM's refusals: bad template, bad credentials, unknown id, busy", async () => {
      await rejects(
        client.create(
          { tosca_definitions_version: "tosca_simple_yaml_1_0", topology_template: [] },
          "uid-bad",
        ),
        "invalid",
        /answered 400: Error/,
      );
      const wrong = new ImProvider({
        url: im.url,
        authorization: imAuthorization({ id: "im", username: "test", password: "nope" }, CLOUD),
      });
      await rejects(wrong.create(base, "uid-x"), "unauthorized", /answered 401/);
      await rejects(wrong.status("00000000-0000-0000-0000-000000000000"), "unauthorized");
      await rejects(client.status("00000000-0000-0000-0000-000000000000"), "not-found", /answered 404/);
      const id = await configured("uid-busy");
      im.failNext("delete", { status: 409, message: "Error Destroying Inf: resources are being added" });
      await assert.rejects(client.delete(id), (err: unknown) => {
        assert.ok(err instanceof ProviderError && err.kind === "conflict" && err.retryable);
        return true;
      });
    });

    it("5xx, 504, resets and timeouts are retryable 'unavailable'; the caller's abort is not", async () => {
      const id = await configured("uid-flaky");
      im.failNext("state", { status: 500, message: "Internal Server Error" });
      await rejects(client.status(id), "unavailable", /answered 500/);
      im.failNext("state", { status: 504, body: "Operation timed out", contentType: "text/plain" });
      await rejects(client.status(id), "unavailable", /answered 504: Operation timed out/);
      // A reset on a kept-alive socket may be the server closing it as it was reused: retried once on a new
      // connection; a second reset is an error.
      im.failNext("state", { reset: true, times: 2 });
      const sent = im.requests.length;
      await rejects(client.status(id), "unavailable", /unreachable/);
      assert.equal(im.requests.slice(sent).filter((r) => r.op === "state").length, 2);
      const impatient = new ImProvider({
        url: im.url,
        authorization: imAuthorization(IM_USER, CLOUD),
        timeoutMs: 150,
      });
      im.failNext("state", { hang: true });
      await rejects(impatient.status(id), "unavailable", /timed out/);
      im.clearFailures();
      const aborted = new AbortController();
      im.failNext("state", { hang: true });
      const pending = client.status(id, { signal: aborted.signal });
      aborted.abort(new Error("controller stopping"));
      await assert.rejects(pending, /controller stopping/);
      im.clearFailures();
      assert.equal((await client.status(id)).phase, "ready");
    });

    it("reads every error shape: {message, code}, FastAPI detail lists, plain text", async () => {
      const id = await configured("uid-shapes");
      im.failNext("state", {
        status: 422,
        body: JSON.stringify({
          detail: [{ loc: ["query", "async"], msg: "value could not be parsed to a boolean", type: "x" }],
        }),
        contentType: "application/json",
      });
      await rejects(client.status(id), "invalid", /query\.async: value could not be parsed/);
      im.failNext("state", {
        status: 400,
        body: "Error Getting Inf. prop: something broke",
        contentType: "text/plain",
      });
      await rejects(client.status(id), "invalid", /answered 400: Error Getting Inf\. prop: something broke/);
      im.failNext("state", {
        status: 502,
        body: "<html><body>Bad Gateway</body></html>",
        contentType: "text/html",
      });
      await rejects(client.status(id), "unavailable", /502/);
    });

    it("takes the id from the JSON uri when InfID is missing", async () => {
      im.failNext("create", {
        status: 200,
        body: JSON.stringify({ uri: `${im.url}/infrastructures/abc-123` }),
        contentType: "application/json",
      });
      assert.equal(await client.create(base, "uid-uri"), "abc-123");
    });
  });
}

describe("TOSCA bodies", () => {
  it("are JSON, so that PyYAML's YAML 1.1 reads strings like yes, on and 0755 as strings", () => {
    const doc = {
      topology_template: {
        inputs: { a: { default: "yes" }, b: { default: "on" }, c: { default: "0755" }, n: { default: 3 } },
      },
    };
    const asIm = parse(toscaText(doc), { version: "1.1" }) as any;
    assert.deepEqual(asIm, doc);
    // What a YAML 1.2 writer would have sent:
    assert.equal((parse(stringify(doc), { version: "1.1" }) as any).topology_template.inputs.a.default, true);
  });
});
