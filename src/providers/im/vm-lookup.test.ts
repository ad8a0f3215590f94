/**
 * Which IM VM hosts a Kubernetes node: the VM whose RADL host name (`net_interface.0.dns_name`, `#N#` replaced
 * by the VM id, IM's default `vnode-#N#`) is the node's name. What a scale-down puts in `removal_list`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { startImSimulator, type ImSimulator } from "../../sandbox/im/server.js";
import { ProviderError } from "../provider.js";
import { imAuthorization } from "./auth.js";
import { ImProvider } from "./client.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples/", import.meta.url));

/** examples/im-cluster.yaml with `workers` workers, named `dnsName` when given. */
function template(workers: number, dnsName?: string): Record<string, unknown> {
  const doc = parse(readFileSync(EXAMPLES + "im-cluster.yaml", "utf8"));
  doc.topology_template.inputs.wn_num.default = workers;
  if (dnsName)
    doc.topology_template.node_templates.wn.capabilities.endpoint = { properties: { dns_name: dnsName } };
  return doc;
}

for (const version of ["2.0.0", "1.19.2"] as const) {
  describe(`VM of a node, IM ${version}`, () => {
    let im: ImSimulator;
    let client: ImProvider;
    before(async () => {
      im = await startImSimulator({
        version,
        delays: { create: 0, pending: 0, running: 0, configure: 0, delete: 0, add: 0 },
      });
      client = new ImProvider({
        url: im.url,
        authorization: imAuthorization(
          { id: "im", username: "test", password: "test" },
          {
            id: "ost",
            url: "https://keystone.example:5000/v3",
            version: "3",
            username: "u",
            password: "p",
            userDomainName: "Default",
            project: "p",
            projectDomainId: "default",
          },
        ),
      });
    });
    after(() => im.close());

    async function built(doc: Record<string, unknown>): Promise<string> {
      const id = await client.create(doc, `uid-${Math.random()}`);
      await im.flush();
      return id;
    }

    it("finds IM's default host names vnode-<id>, within the worker system when asked", async () => {
      const id = await built(template(2));
      assert.deepEqual(
        im.infrastructure(id)!.vms.map((vm) => [vm.id, vm.system, vm.hostname]),
        [
          [0, "front", "kubeserver"],
          [1, "wn", "vnode-1"],
          [2, "wn", "vnode-2"],
        ],
      );
      assert.equal(await client.vmIdOfHost(id, "vnode-2", { system: "wn" }), "2");
      assert.equal(await client.vmIdOfHost(id, "vnode-1"), "1");
      assert.equal(await client.vmIdOfHost(id, "kubeserver"), "0");
      assert.equal(
        await client.vmIdOfHost(id, "kubeserver", { system: "wn" }),
        null,
        "never the control plane",
      );
      assert.equal(await client.vmIdOfHost(id, "vnode-7", { system: "wn" }), null);
    });

    it("replaces #N# in a template's dns_name and matches a node named by the first label", async () => {
      const id = await built(template(2, "worker-#N#.example.org"));
      assert.equal(await client.vmIdOfHost(id, "worker-2.example.org", { system: "wn" }), "2");
      assert.equal(await client.vmIdOfHost(id, "worker-1", { system: "wn" }), "1");
    });

    it("refuses a name several VMs share", async () => {
      const id = await built(template(2, "worker"));
      await assert.rejects(client.vmIdOfHost(id, "worker", { system: "wn" }), (err: unknown) => {
        assert.ok(err instanceof ProviderError);
        assert.equal(err.kind, "invalid");
        assert.match(err.message, /VMs 1, 2 .* are all named 'worker'/);
        return true;
      });
    });
  });
}
