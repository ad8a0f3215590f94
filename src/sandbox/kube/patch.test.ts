import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { builtinSchema } from "./fields.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { StatusError } from "./status.js";

const POD = builtinSchema("/Pod");

describe("patches", () => {
  it("merge patch: objects merge, null deletes, lists replace", () => {
    const target = { a: { b: 1, c: 2 }, list: [1, 2], keep: true };
    assert.deepEqual(mergePatch(target, { a: { b: null, d: 3 }, list: [3] }), {
      a: { c: 2, d: 3 },
      list: [3],
      keep: true,
    });
    assert.deepEqual(target, { a: { b: 1, c: 2 }, list: [1, 2], keep: true }, "the target is not touched");
  });

  it("strategic merge patch: lists merge by their key, with $patch directives", () => {
    const pod = {
      spec: {
        containers: [
          { name: "a", image: "a:1", env: [{ name: "X", value: "1" }] },
          { name: "b", image: "b:1" },
        ],
        tolerations: [{ key: "t" }],
      },
      metadata: { finalizers: ["one"] },
    };
    const patched: any = strategicMergePatch(
      pod,
      {
        spec: {
          containers: [
            { name: "a", env: [{ name: "Y", value: "2" }] },
            { name: "c", image: "c:1" },
          ],
          tolerations: [{ key: "u" }],
          $setElementOrder_ignored: true,
        },
        metadata: { finalizers: ["two"] },
      },
      POD,
    );
    assert.deepEqual(
      patched.spec.containers.map(
        (c: any) => `${c.name}:${c.image}:${(c.env ?? []).map((e: any) => e.name).join("")}`,
      ),
      ["a:a:1:YX", "c:c:1:", "b:b:1:"],
    );
    assert.deepEqual(patched.spec.tolerations, [{ key: "u" }], "lists without a merge key are replaced");
    assert.deepEqual(patched.metadata.finalizers, ["one", "two"], "finalizers merge as a set");

    const deleted: any = strategicMergePatch(
      pod,
      { spec: { containers: [{ name: "b", $patch: "delete" }] } },
      POD,
    );
    assert.deepEqual(
      deleted.spec.containers.map((c: any) => c.name),
      ["a"],
    );
    const replaced: any = strategicMergePatch(
      pod,
      { spec: { containers: [{ $patch: "replace" }, { name: "z", image: "z" }] } },
      POD,
    );
    assert.deepEqual(replaced.spec.containers, [{ name: "z", image: "z" }]);
    const replacedMap: any = strategicMergePatch(pod, { spec: { $patch: "replace", containers: [] } }, POD);
    assert.deepEqual(replacedMap.spec, { containers: [] });
    const retained: any = strategicMergePatch({ a: 1, b: 2 }, { $retainKeys: ["a", "c"], c: 3 }, undefined);
    assert.deepEqual(retained, { a: 1, c: 3 });
    const pruned: any = strategicMergePatch(
      pod,
      { metadata: { "$deleteFromPrimitiveList/finalizers": ["one"] } },
      POD,
    );
    assert.deepEqual(pruned.metadata.finalizers, []);
  });

  it("JSON patch: add, remove, replace, move, copy and test, with the real server's errors", () => {
    const doc = { a: [1, 2], b: { c: "x" } };
    assert.deepEqual(
      jsonPatch(doc, [
        { op: "add", path: "/a/-", value: 3 },
        { op: "add", path: "/a/0", value: 0 },
        { op: "remove", path: "/a/1" },
        { op: "replace", path: "/b/c", value: "y" },
        { op: "copy", from: "/b/c", path: "/d" },
        { op: "move", from: "/d", path: "/b/e~1f" },
        { op: "test", path: "/b/c", value: "y" },
      ]),
      { a: [0, 2, 3], b: { c: "y", "e/f": "y" } },
    );
    assert.deepEqual(doc, { a: [1, 2], b: { c: "x" } }, "the document is not touched");
    for (const bad of [
      [{ op: "test", path: "/b/c", value: "z" }],
      [{ op: "replace", path: "/nope", value: 1 }],
      [{ op: "remove", path: "/a/5" }],
    ])
      assert.throws(
        () => jsonPatch(doc, bad),
        (err: unknown) => err instanceof StatusError && err.code === 422 && err.reason === "Invalid",
      );
    assert.throws(
      () => jsonPatch(doc, { op: "add" }),
      (err: unknown) => err instanceof StatusError && err.code === 500,
    );
  });
});
