import assert from "node:assert/strict";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { AddressGuard, DEFAULT_DENIED_NETWORKS, parseNetworks } from "./address-guard.js";
import { ToscaFetchError, translateApplication } from "./tosca.js";

const TEMPLATE = `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    cm:
      type: tosca.nodes.indigo.KubernetesObject
      properties:
        spec: |
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: guarded
`;

async function serve(t: TestContext, host: string, handler: RequestListener): Promise<number> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function refused(host: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ToscaFetchError, `a ToscaFetchError, not ${String(err)}`);
    assert.equal(err.transient, false, "waiting does not make a denied address allowed");
    assert.match(err.message, /refused: /);
    assert.match(err.message, host);
    assert.match(err.message, /--tosca-deny-networks/);
    return true;
  };
}

describe("AddressGuard", () => {
  it("denies link-local addresses by default (cloud metadata), IPv4-mapped ones too, and allows loopback and private ranges", () => {
    const guard = new AddressGuard();
    for (const a of ["169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254", "fd00:ec2::254"])
      assert.equal(guard.refuses(a), true, a);
    for (const a of ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "8.8.8.8", "fd00::1"])
      assert.equal(guard.refuses(a), false, a);
    assert.deepEqual(DEFAULT_DENIED_NETWORKS.slice(0, 2), ["169.254.0.0/16", "fe80::/10"]);
  });

  it("takes CIDR lists, and rejects what is not one with the entry named", () => {
    assert.equal(new AddressGuard(["10.0.0.0/8"]).refuses("10.200.0.1"), true);
    assert.equal(new AddressGuard([]).refuses("169.254.169.254"), false, "an empty list allows everything");
    assert.throws(() => parseNetworks(["10.0.0.0/33"]), /'10\.0\.0\.0\/33' is not a network/);
    assert.throws(() => parseNetworks(["example.com/8"]), /'example\.com\/8'/);
  });
});

describe("TOSCA downloads and denied networks", () => {
  it("refuses a literal link-local URL before connecting", async () => {
    await assert.rejects(
      translateApplication({ tosca: "http://169.254.169.254/latest/meta-data/x.yaml" }),
      refused(/169\.254\.169\.254/),
    );
    await assert.rejects(translateApplication({ csar: "http://[fe80::1]/app.csar" }), refused(/fe80::1/));
  });

  it("checks the address a name resolves to (a name for a denied address does not get through)", async (t) => {
    const port = await serve(t, "127.0.0.1", (_req, res) => res.end(TEMPLATE));
    // Loopback stands in for the metadata range here: the test cannot make a name resolve to 169.254.x.x.
    const guard = new AddressGuard(["127.0.0.0/8", "::1/128"]);
    await assert.rejects(
      translateApplication({ tosca: `http://localhost:${port}/t.yaml` }, { guard }),
      refused(/localhost is at (127\.0\.0\.1|::1)/),
    );
    // The default guard lets loopback through: tests and on-premises servers use it.
    const manifests = await translateApplication({ tosca: `http://localhost:${port}/t.yaml` });
    assert.equal((manifests?.[0] as { metadata: { name: string } }).metadata.name, "guarded");
  });

  it("checks every redirect", async (t) => {
    const target = await serve(t, "127.0.0.1", (_req, res) => res.end(TEMPLATE));
    const redirector = await serve(t, "127.0.0.2", (_req, res) =>
      res.writeHead(302, { Location: `http://localhost:${target}/t.yaml` }).end(),
    );
    const guard = new AddressGuard(["127.0.0.1/32", "::1/128"]);
    await assert.rejects(
      translateApplication({ tosca: `http://127.0.0.2:${redirector}/start.yaml` }, { guard }),
      refused(/localhost/),
    );
    const toMetadata = await serve(t, "127.0.0.2", (_req, res) =>
      res.writeHead(307, { Location: "http://169.254.169.254/latest/meta-data/" }).end(),
    );
    await assert.rejects(
      translateApplication({ tosca: `http://127.0.0.2:${toMetadata}/start.yaml` }),
      refused(/169\.254\.169\.254/),
    );
  });
});
