import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Resource } from "../../resources/kind.js";
import { ImProvider } from "../../providers/im/client.js";
import { providerOf, UnusableProvider, type ProviderCatalog } from "./providers.js";

const cloud = (name: string, namespace: string | null, over: any = {}): Resource => ({
  api: "infrastructure",
  kind: namespace ? "Cloud" : "GlobalCloud",
  metadata: { name, namespace } as any,
  spec: {
    type: "openstack",
    openstack: {
      url: "https://keystone.example:5000/v3",
      auth: {
        type: "password",
        password: {
          version: "3",
          user: { username: "u", password: "p", domain_name: "Default" },
          project: { name: "p", domain_id: "default" },
        },
      },
      infrastructure_provider: { name: "im" },
    },
    ...over,
  },
});

const provider = (name: string, namespace: string | null, url: string): Resource => ({
  api: "infrastructure",
  kind: namespace ? "InfrastructureProvider" : "GlobalInfrastructureProvider",
  metadata: { name, namespace } as any,
  spec: { type: "im", im: { url, username: "test", password: "test" } },
});

function catalog(resources: Resource[]): ProviderCatalog {
  const find = (kind: string, name: string, ns: string | null) =>
    resources.find(
      (r) => r.kind === kind && r.metadata.name === name && (r.metadata.namespace ?? null) === ns,
    );
  return {
    cloud: (name, ns) => find("Cloud", name, ns),
    globalCloud: (name) => find("GlobalCloud", name, null),
    provider: (name, ns) => find("InfrastructureProvider", name, ns),
    globalProvider: (name) => find("GlobalInfrastructureProvider", name, null),
  };
}

const cluster = (to: object | null): Resource => ({
  api: "kubernetes",
  kind: "Cluster",
  metadata: { name: "c", namespace: "ns" } as any,
  status: { scheduled_to: to },
});

describe("the provider of a cluster", () => {
  const opts = { timeoutMs: 1000 };

  it("is the IM of its cloud: a namespaced provider first, then a global one", () => {
    const resources = [
      cloud("os", "ns"),
      cloud("gos", null),
      provider("im", "ns", "http://namespaced:8800"),
      provider("im", null, "http://global:8800"),
    ];
    const seen: string[] = [];
    const spy = { ...opts, providerFor: (p: Resource) => (seen.push(p.spec.im.url), {} as any) };
    providerOf(cluster({ kind: "Cloud", name: "os", namespace: "ns" }), catalog(resources), spy);
    providerOf(cluster({ kind: "GlobalCloud", name: "gos", namespace: null }), catalog(resources), spy);
    assert.deepEqual(seen, ["http://namespaced:8800", "http://global:8800"]);
    const im = providerOf(cluster({ kind: "Cloud", name: "os", namespace: "ns" }), catalog(resources), opts);
    assert.ok(im instanceof ImProvider);
  });

  it("names what is missing or unsupported", () => {
    const none = catalog([]);
    const unusable = (c: Resource, resources: Resource[], message: RegExp) =>
      assert.throws(
        () => providerOf(c, catalog(resources), opts),
        (err: unknown) => {
          assert.ok(err instanceof UnusableProvider);
          assert.match((err as Error).message, message);
          return true;
        },
      );
    assert.throws(() => providerOf(cluster(null), none, opts), UnusableProvider);
    const to = { kind: "GlobalCloud", name: "gos", namespace: null };
    unusable(cluster(to), [], /the cloud GlobalCloud 'gos' the cluster is scheduled to does not exist/);
    unusable(
      cluster(to),
      [cloud("gos", null)],
      /the infrastructure provider 'im' of cloud 'gos' does not exist/,
    );
    unusable(cluster(to), [cloud("gos", null, { type: "aws" })], /clouds of type 'aws' are not supported/);
    const magnum = { ...provider("im", null, "http://x"), spec: { type: "magnum" } };
    unusable(cluster(to), [cloud("gos", null), magnum], /providers of type 'magnum' are not supported/);
  });
});
