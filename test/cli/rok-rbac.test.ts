import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually } from "../support/api.js";
import { startRbacApi, type RbacApi } from "../support/rbac.js";
import { rokSandbox, useRokApi } from "../support/rok.js";

const t = useRokApi();
const rok = (args: string[]) => t.rok(args);
const json = (s: string) => JSON.parse(s);

describe("core role (our addition: krakectl has no RBAC commands)", () => {
  it("create from --rule flags, get, list", async () => {
    let r = await rok([
      "core",
      "role",
      "create",
      "--rule",
      "kubernetes:applications,clusters:team-a:get,list",
      "--rule",
      "core:metrics:*:get",
      "-l",
      "owner=ops",
      "reader",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).rules, [
      {
        api: "kubernetes",
        resources: ["applications", "clusters"],
        namespaces: ["team-a"],
        verbs: ["get", "list"],
      },
      { api: "core", resources: ["metrics"], namespaces: [""], verbs: ["get"] },
    ]);
    r = await rok(["core", "role", "get", "reader"]);
    assert.match(r.stdout, /\| rule +\| get,list on kubernetes\/applications,clusters in team-a +\|/);
    assert.match(r.stdout, /get on core\/metrics in \* +\|/, "every namespace is shown as *");
    r = await rok(["core", "role", "list", "-o", "name"]);
    assert.equal(r.stdout, "reader\n");
  });

  it("create from a file; bad rules and unknown verbs are refused", async () => {
    await writeFile(
      join(t.sb.dir, "role.yaml"),
      "rules:\n  - api: kubernetes\n    resources: [applications]\n    namespaces: [team-b]\n    verbs: [create, delete]\n",
    );
    let r = await rok(["core", "role", "create", "-f", "role.yaml", "writer", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).rules[0].verbs, ["create", "delete"]);
    r = await rok(["core", "role", "create", "--rule", "kubernetes:applications", "bad"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--rule: expected API:RESOURCES:NAMESPACES:VERBS/);
    r = await rok(["core", "role", "create", "--rule", "kubernetes:applications:*:fly", "bad"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 422 [^\n]*\n {2}rules\.0\.verbs\.0: /);
    r = await rok(["core", "role", "create", "empty"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /at least one --rule/);
  });

  it("update: --add-rule appends, --rule replaces", async () => {
    let r = await rok([
      "core",
      "role",
      "update",
      "--add-rule",
      "kubernetes:applications:team-b:get",
      "reader",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).rules.length, 3);
    r = await rok(["core", "role", "update", "--rule", "core:roles:*:get", "reader", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).rules, [
      { api: "core", resources: ["roles"], namespaces: [""], verbs: ["get"] },
    ]);
  });

  it("* stands for every API, resource, namespace and verb, as RBAC spells them", async () => {
    const r = await rok(["core", "role", "create", "--rule", "*:*:*:*", "admin-like", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).rules, [
      { api: "", resources: [""], namespaces: [""], verbs: ["create", "get", "list", "update", "delete"] },
    ]);
  });

  it("delete marks the role deleted (the garbage collector removes it once nothing depends on it)", async () => {
    let r = await rok(["core", "role", "create", "--rule", "core:metrics:*:get", "short-lived"]);
    assert.equal(r.code, 0, r.stderr);
    r = await rok(["core", "role", "delete", "short-lived", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(json(r.stdout).metadata.deleted);
    r = await rok(["core", "role", "delete", "no-such-role"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not exist/);
  });
});

describe("core rolebinding", () => {
  it("create, add and remove users and roles, delete", async () => {
    let r = await rok([
      "core",
      "rolebinding",
      "create",
      "--user",
      "alice",
      "--user",
      "bob",
      "--role",
      "reader",
      "team-a",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([json(r.stdout).users, json(r.stdout).roles], [["alice", "bob"], ["reader"]]);
    r = await rok([
      "core",
      "rolebinding",
      "update",
      "--user",
      "carol",
      "--remove-user",
      "bob",
      "--role",
      "writer",
      "team-a",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      [json(r.stdout).users, json(r.stdout).roles],
      [
        ["alice", "carol"],
        ["reader", "writer"],
      ],
    );
    r = await rok(["core", "rolebinding", "list"]);
    assert.match(r.stdout, /\| team-a +\| None +\| None +\|.*\| alice, carol +\| reader, writer +\|/);
    r = await rok(["core", "rolebinding", "get", "team-a", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      [json(r.stdout).users, json(r.stdout).roles],
      [
        ["alice", "carol"],
        ["reader", "writer"],
      ],
    );
    r = await rok(["core", "rolebinding", "update", "--remove-role", "writer", "team-a", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).roles, ["reader"]);
    r = await rok(["core", "rolebinding", "create", "--user", "x", "missing-role"]);
    assert.equal(r.code, 2, "--role is required");
    r = await rok(["core", "rolebinding", "delete", "team-a", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(json(r.stdout).metadata.deleted);
  });
});

describe("roles made with rok, under RBAC", () => {
  let api: RbacApi;
  let sb: Awaited<ReturnType<typeof rokSandbox>>;
  before(async () => {
    api = await startRbacApi();
    sb = await rokSandbox(api.url);
  });
  after(async () => {
    await sb?.cleanup();
    await api?.close();
  });
  const tokenOf = (user: string) => api.header(user).Authorization.replace(/^Bearer /, "");
  const as = (user: string, args: string[]) => sb.rok(args, { env: { KRAKE_TOKEN: tokenOf(user) } });

  it("grant exactly what they say: the admin makes a role and binding, the user gets in there and nowhere else", async () => {
    let r = await as("system:admin", [
      "core",
      "role",
      "create",
      "--rule",
      "kubernetes:applications:team-a:get,list",
      "team-a-reader",
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await as("system:admin", [
      "core",
      "rolebinding",
      "create",
      "--user",
      "alice",
      "--role",
      "team-a-reader",
      "alice",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await eventually(
      async () => (await as("alice", ["kube", "app", "list", "-n", "team-a"])).code === 0,
      5000,
      "alice's role",
    );
    r = await as("alice", ["whoami", "-o", "json"]);
    assert.deepEqual(json(r.stdout), { user: "alice", roles: ["team-a-reader"] });
    r = await as("alice", ["kube", "app", "list", "-n", "team-b"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /403/);
    r = await as("alice", ["core", "role", "create", "--rule", "*:*:*:*", "alice-everything"]);
    assert.equal(r.code, 1, "alice cannot grant herself more");
    assert.match(r.stderr, /403/);

    r = await as("system:admin", ["core", "rolebinding", "update", "--remove-user", "alice", "alice"]);
    assert.equal(r.code, 0, r.stderr);
    await eventually(
      async () => (await as("alice", ["kube", "app", "list", "-n", "team-a"])).code === 1,
      5000,
      "alice's role revoked",
    );
  });
});
