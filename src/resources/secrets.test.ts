import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SECRET_MARKER, keepStoredSecrets, markedSecrets, redactInPlace } from "./secrets.js";

const kubeconfig = (token: string, exec: unknown = { command: "x" }) => ({
  users: [
    { name: "a", user: { token, exec } },
    { name: "b", user: { token: `${token}-b` } },
  ],
  clusters: [{ name: "c", cluster: { server: "https://k:6443" } }],
});
const PATHS = ["users.*.user.token", "users.*.user.exec", "items.*[kind=Secret].data"];

describe("secret paths", () => {
  it("redact every match, whole subtrees included, and leave nulls and other fields alone", () => {
    const obj: any = {
      ...kubeconfig("t1"),
      items: [
        { kind: "Secret", data: { k: "v" } },
        { kind: "ConfigMap", data: { k: "v" } },
      ],
    };
    obj.users[1].user.exec = null;
    assert.equal(redactInPlace(obj, PATHS), true);
    assert.deepEqual(obj.users[0].user, { token: SECRET_MARKER, exec: SECRET_MARKER });
    assert.deepEqual(obj.users[1].user, { token: SECRET_MARKER, exec: null });
    assert.equal(obj.clusters[0].cluster.server, "https://k:6443");
    assert.equal(obj.items[0].data, SECRET_MARKER);
    assert.deepEqual(obj.items[1].data, { k: "v" }, "the filter keeps ConfigMaps visible");
    assert.equal(redactInPlace({ users: [] }, PATHS), false);
  });

  it("keep stored values for markers, matching list entries by name", () => {
    const stored = kubeconfig("old");
    const body: any = kubeconfig(SECRET_MARKER, SECRET_MARKER);
    body.users.reverse(); // b first: matched by name, not position
    body.users[0].user.token = "new-b";
    const { kept, issues } = keepStoredSecrets(body, stored, PATHS);
    assert.deepEqual(issues, []);
    assert.equal(kept.length, 2);
    assert.equal(body.users[0].user.token, "new-b");
    assert.deepEqual(body.users[1].user, { token: "old", exec: { command: "x" } });
  });

  it("report markers with nothing stored to keep, naming the field", () => {
    const body: any = { users: [{ name: "new", user: { token: SECRET_MARKER } }] };
    assert.deepEqual(markedSecrets(body, PATHS), [["users", 0, "user", "token"]]);
    const { issues } = keepStoredSecrets(body, kubeconfig("old"), PATHS);
    assert.deepEqual(
      issues.map((i) => i.path),
      [["users", 0, "user", "token"]],
    );
    assert.match(issues[0].message, /no stored value/);
  });
});
