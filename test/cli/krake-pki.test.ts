/**
 * `krake pki`: the files it writes make a working TLS installation — the API serves with api.crt, trusts
 * ca.crt, and every controller certificate authenticates as the user its role is bound to; hook certificates
 * signed by hook-signing (an intermediate) are accepted through their chain.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runKrake } from "../support/process.js";
import { startTestApi, type TestApi } from "../support/api.js";
import { issueHookCertificate, loadHookTls } from "../../src/controllers/application/hook-tls.js";

let dir: string;
let pki: string;
let api: TestApi | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-pki-test-"));
  pki = join(dir, "pki");
});
after(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

function me(cert: string, key: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${api!.url}/me`, { ca: readFileSync(join(pki, "ca.crt")), cert, key }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}
const file = (stem: string) => ({
  cert: readFileSync(join(pki, `${stem}.crt`), "utf8"),
  key: readFileSync(join(pki, `${stem}.key`), "utf8"),
});

describe("krake pki", () => {
  it("init writes a CA, the API's certificate and one client certificate per user; keys are 0600", async () => {
    const r = await runKrake(["pki", "init", "--api-host", "127.0.0.1,localhost", "--dir", pki]);
    assert.equal(r.code, 0, r.stderr);
    for (const stem of [
      "ca",
      "api",
      "admin",
      "controller-scheduler",
      "controller-application",
      "hook-signing",
    ]) {
      assert.match(r.stdout, new RegExp(`${stem}\\.crt, ${stem}\\.key`));
      assert.equal(statSync(join(pki, `${stem}.key`)).mode & 0o777, 0o600, `${stem}.key`);
    }
    api = await startTestApi({
      tlsCert: join(pki, "api.crt"),
      tlsKey: join(pki, "api.key"),
      tlsClientCa: join(pki, "ca.crt"),
      allowAnonymous: false,
    });
    const expected: Record<string, string> = {
      admin: "system:admin",
      "controller-scheduler": "system:scheduler",
      "controller-gc": "system:gc",
      "controller-infrastructure": "system:infrastructure",
      "controller-cluster": "system:kubernetes-cluster",
      "controller-application": "system:kubernetes-application",
      "controller-autoscaler": "system:autoscaler",
    };
    for (const [stem, user] of Object.entries(expected)) {
      const { cert, key } = file(stem);
      const answer = await me(cert, key);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.user, user);
    }
  });

  it("the hook-signing CA can serve the application controller; its certificates pass through the chain", async () => {
    const tls = loadHookTls(
      {
        cert: join(pki, "hook-signing.crt"),
        key: join(pki, "hook-signing.key"),
        caBundle: join(pki, "ca.crt"),
      },
      (f) => readFileSync(f, "utf8"),
    );
    const hook = issueHookCertificate("complete", tls);
    const answer = await me(hook.cert, hook.key);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.user, "system:complete-hook");
  });

  it("issue signs a certificate for another user; nothing is overwritten without --force", async () => {
    const issued = await runKrake(["pki", "issue", "--cn", "alice", "--dir", pki]);
    assert.equal(issued.code, 0, issued.stderr);
    const { cert, key } = file("alice");
    assert.equal((await me(cert, key)).body.user, "alice");
    const again = await runKrake(["pki", "issue", "--cn", "alice", "--dir", pki]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /alice\.crt exists; use --force to replace it/);
    const before = readFileSync(join(pki, "ca.key"), "utf8");
    const init = await runKrake(["pki", "init", "--api-host", "localhost", "--dir", pki]);
    assert.equal(init.code, 1);
    assert.match(init.stderr, /ca\.crt exists/);
    assert.equal(readFileSync(join(pki, "ca.key"), "utf8"), before, "the CA is untouched");
  });

  it("bad input names the flag", async () => {
    const host = await runKrake(["pki", "init", "--api-host", "not a host", "--dir", join(dir, "x")]);
    assert.equal(host.code, 1);
    assert.match(host.stderr, /--api-host: "not a host" is neither a DNS name nor an IP address/);
    const days = await runKrake([
      "pki",
      "init",
      "--api-host",
      "localhost",
      "--days",
      "0",
      "--dir",
      join(dir, "y"),
    ]);
    assert.notEqual(days.code, 0);
    assert.match(days.stderr, /--days/);
    const noCa = await runKrake(["pki", "issue", "--cn", "bob", "--dir", join(dir, "empty")]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /cannot read the CA in .*empty.*run krake pki init first/);
  });
});
