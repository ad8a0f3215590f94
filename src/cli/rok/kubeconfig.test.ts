import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reduceKubeconfig } from "./kubeconfig.js";

const config = () => ({
  apiVersion: "v1",
  kind: "Config",
  preferences: { colors: true },
  clusters: [{ name: "c1", cluster: { server: "https://a:6443" } }],
  users: [
    { name: "u1", user: { tokenFile: "token" } },
    { name: "u2", user: { exec: { command: "x" } } },
  ],
  contexts: [{ name: "ctx", context: { cluster: "c1", user: "u1" } }],
  "current-context": "ctx",
});

describe("reduceKubeconfig", () => {
  it("keeps the top-level keys, one context, and reads a tokenFile into token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kc-"));
    try {
      await writeFile(join(dir, "token"), "abc123\n");
      const { kubeconfig, clusterName } = reduceKubeconfig(config(), undefined, dir);
      assert.equal(clusterName, "c1");
      assert.deepEqual(kubeconfig.preferences, { colors: true });
      assert.deepEqual(kubeconfig.users, [{ name: "u1", user: { token: "abc123" } }]);
      assert.equal(kubeconfig.contexts.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("does not modify its input", () => {
    const input = config();
    input.users[0].user = { token: "t" } as any;
    const before = JSON.stringify(input);
    reduceKubeconfig(input, "ctx", "/nonexistent");
    assert.equal(JSON.stringify(input), before);
  });

  it("names what is missing", () => {
    const broken = config();
    broken.contexts[0].context.user = "ghost";
    assert.throws(
      () => reduceKubeconfig(broken, undefined, "/"),
      /user 'ghost' \(from context 'ctx'\) is not in the file \(available: u1, u2\)/,
    );
    assert.throws(() => reduceKubeconfig([], undefined, "/"), /not a kubeconfig/);
  });
});
