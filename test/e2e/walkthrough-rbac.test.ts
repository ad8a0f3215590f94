/**
 * The sandbox walkthrough under RBAC with the bootstrap roles: `krake up --authorization RBAC --bootstrap
 * support/base_roles.yaml`, every controller under its own user and least-privilege role. A controller
 * missing a permission would log the API's refusal ("403: Forbidden") and stall; the walkthrough must
 * complete and the captured logs hold no refusal.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../support/api.js";
import { startKrakeUp, type KrakeProcess } from "../support/process.js";
import { deleteWalkthroughResources, runRokLine, tableRows } from "../support/rok.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

let krake: KrakeProcess;
let home: string;
let imPort: number;

/** A port nobody listens on now (the other walkthrough may hold the sandbox's default IM port). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), "krake-e2e-rbac-"));
  imPort = await freePort();
  krake = await startKrakeUp([
    "--sandbox",
    "--port",
    "0",
    "--im-port",
    String(imPort),
    "--authorization",
    "RBAC",
    // The person at the keyboard; the controllers authenticate before this catch-all is asked.
    "--static-user",
    "system:admin",
    "--bootstrap",
    join(REPO, "support/base_roles.yaml"),
    "--log-level",
    "info",
  ]);
});

after(async () => {
  const exit = await krake?.kill("SIGTERM");
  await rm(home, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null }, `krake up did not stop cleanly:\n${krake?.output()}`);
});

const rok = (line: string) => runRokLine(line, krake.url, home);

const json = async (line: string) => JSON.parse(await rok(`${line} -o json`));
const nodes = async () => (await json("rok kube cluster get my-cluster")).status.nodes?.length ?? 0;

describe("krake up --sandbox under RBAC with the bootstrap roles", () => {
  it("loads the roles as system:admin and runs the walkthrough with every controller under its own role", async () => {
    try {
      await walkthrough();
    } finally {
      // Checked even when a step timed out: a refusal is then the likely reason, and says which call.
      const refusals = krake
        .output()
        .split("\n")
        .filter((l) => /403: Forbidden|401: Unauthorized|has no role/.test(l));
      assert.deepEqual(refusals, [], "no controller was refused");
    }
  });
});

async function walkthrough(): Promise<void> {
  assert.match(krake.output(), /Loaded \S*base_roles\.yaml: 18 created, 0 already there/);
  assert.deepEqual((await json("rok whoami")).user, "system:admin");

  const im = `http://localhost:${imPort}`;
  await rok(`rok infra provider register --type im --url ${im} --username test --password test im-provider`);
  await rok(
    "rok infra cloud register --type openstack --url https://keystone.example:5000/v3 --project demo --username demo --password demo --infra-provider im-provider os-cloud",
  );
  await rok("rok kube cluster create -f examples/im-cluster.yaml my-cluster");
  await eventually(
    async () => (await json("rok kube cluster get my-cluster")).status.state === "ONLINE",
    60_000,
    "cluster ONLINE",
  );
  await eventually(async () => (await nodes()) === 2, 60_000, "2 nodes");

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

  await rok("rok kube cluster update -f examples/im-cluster-scale-up.yaml my-cluster");
  await eventually(async () => (await nodes()) === 3, 60_000, "3 nodes after the scale-up");

  await rok("rok kube app delete echo-demo");
  await eventually(async () => tableRows(await rok("rok kube app list")).length === 0, 60_000, "app gone");
  await deleteWalkthroughResources(rok);
}
