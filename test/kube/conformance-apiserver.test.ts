/**
 * The Kubernetes conformance suite (conformance.ts) against the real kube-apiserver v1.20.2 with
 * kube-controller-manager (test/support/kube-apiserver.ts): one server for the whole file, started once.
 * Also the checks of the test server itself (its kubeconfig, no anonymous access). The first run on a
 * machine builds the binaries (several minutes); KRAKE_SKIP_KUBE=1 skips this file.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { kubeConformance } from "./conformance.js";
import { startKubeApiServer, type KubeApiServer } from "../support/kube-apiserver.js";

const skip = process.env.KRAKE_SKIP_KUBE === "1" && "KRAKE_SKIP_KUBE=1: no real Kubernetes API server";
let server: KubeApiServer | undefined;

before(async () => {
  if (skip) return;
  server = await startKubeApiServer({ controllerManager: true });
});
after(() => server?.close());

kubeConformance(
  "kube-apiserver v1.20.2 with kube-controller-manager",
  async () => ({
    kubeconfig: server!.kubeconfig as unknown as Record<string, unknown>,
    controllers: true,
    // The server is the file's: closed in its after hook.
    close: async () => undefined,
  }),
  { skip },
);

describe("the test kube-apiserver", { skip: skip || undefined }, () => {
  it("reports its startup timings", (t) => {
    const { apiserverReadyMs, controllerManagerReadyMs } = server!.timings;
    assert.ok(apiserverReadyMs > 0);
    assert.ok((controllerManagerReadyMs ?? 0) > 0);
    t.diagnostic(
      `kube-apiserver ready in ${apiserverReadyMs} ms, kube-controller-manager ${controllerManagerReadyMs} ms later`,
    );
  });

  it("writes a kubeconfig with the server, the CA and the admin token", () => {
    const { kubeconfig } = server!;
    assert.equal(kubeconfig.clusters[0].cluster.server, server!.url);
    assert.equal(
      Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64").toString(),
      server!.caPem,
    );
    assert.equal(kubeconfig.users[0].user.token, server!.token);
    assert.equal(kubeconfig["current-context"], kubeconfig.contexts[0].name);
  });

  it("refuses requests without a token (RBAC, no anonymous access to the API)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server!.url}/api/v1/namespaces`, { ca: server!.caPem }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 403);
  });
});
