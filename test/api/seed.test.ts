/**
 * Objects the API server writes at startup when missing (--bootstrap, api.yaml's default_roles and
 * default_role_bindings): how an RBAC installation gets its first roles, which nobody could create through
 * the API.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { optionsFromFile, resolveApiConfig } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import { http, startTestApi } from "../support/api.js";

const BASE_ROLES = fileURLToPath(new URL("../../../support/base_roles.yaml", import.meta.url));
const STATIC_METRICS = fileURLToPath(new URL("../../../support/static_metrics.yaml", import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-seed-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("bootstrap at startup", () => {
  it("an RBAC API loads its roles from --bootstrap; a restart over the same data creates nothing twice", async () => {
    const first = await startTestApi({
      authorization: "RBAC",
      staticUser: "system:admin",
      bootstrap: [BASE_ROLES, STATIC_METRICS],
    });
    try {
      assert.ok(
        first.server.seeded!.every((s) => s.created > 0 && s.existing === 0),
        JSON.stringify(first.server.seeded),
      );
      const me = await http(first.url, "GET", "/me");
      assert.ok(me.body.roles.includes("role:system"), JSON.stringify(me.body));
      assert.equal(
        (await http(first.url, "GET", "/core/globalmetrics")).status,
        200,
        "the admin may act at once",
      );
    } finally {
      await first.server.close();
    }
    const again = await startTestApi({
      dataDir: first.dataDir,
      authorization: "RBAC",
      staticUser: "system:admin",
      bootstrap: [BASE_ROLES],
    });
    try {
      assert.deepEqual(
        again.server.seeded!.map((s) => s.created),
        [0],
      );
      assert.ok(again.server.seeded![0]!.existing > 0);
    } finally {
      await again.close();
    }
  });

  it("Krake's default_roles and default_role_bindings in api.yaml are created at startup", async () => {
    const file = join(dir, "api.yaml");
    await writeFile(
      file,
      [
        "default_roles:",
        "  - metadata: {name: reader}",
        "    rules: [{api: kubernetes, resources: [applications], namespaces: [team-a], verbs: [get, list]}]",
        "default_role_bindings:",
        "  - metadata: {name: reader-alice}",
        "    users: [alice]",
        "    roles: [reader]",
      ].join("\n"),
    );
    const api = await startTestApi({ ...optionsFromFile(file), authorization: "RBAC", staticUser: "alice" });
    try {
      assert.deepEqual((await http(api.url, "GET", "/me")).body, { user: "alice", roles: ["reader"] });
      assert.equal((await http(api.url, "GET", "/kubernetes/namespaces/team-a/applications")).status, 200);
      assert.equal((await http(api.url, "GET", "/kubernetes/namespaces/team-b/applications")).status, 403);
    } finally {
      await api.close();
    }
  });

  it("a bad document stops the start and writes nothing; the message names the document and the field", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "api: core\nkind: Role\nmetadata: {name: fine}\nrules: []\n---\napi: core\nkind: RoleBinding\nmetadata: {name: broken}\nusers: nobody\n",
    );
    const dataDir = join(dir, "bad-data");
    const config = resolveApiConfig({ host: "127.0.0.1", port: 0, dataDir, fsync: false, bootstrap: bad });
    await assert.rejects(
      startApiServer(config, { logger: pino({ level: "silent" }) }),
      (err: Error) =>
        err.name === "BootstrapError" && /bad\.yaml, document 2 \(RoleBinding\): users: /.test(err.message),
    );
    const api = await startTestApi({ dataDir });
    try {
      assert.deepEqual(
        (await http(api.url, "GET", "/core/roles")).body.items,
        [],
        "the valid first document was not written either",
      );
    } finally {
      await api.server.close();
    }
    const file = join(dir, "x.yaml");
    writeFileSync(file, "default_roles: 3\n");
    assert.throws(() => optionsFromFile(file), /x\.yaml: default_roles must be a list of Role objects/);
  });
});
