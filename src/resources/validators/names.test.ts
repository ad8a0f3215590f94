import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkResourceName, checkResourceNamespace, isValidResourceName } from "./names.js";

const NAME = "Invalid character in resource name.";
const NAMESPACE = "Invalid character in resource namespace.";

describe("resource names", () => {
  const valid = [
    "a",
    "_",
    "9",
    "my-app",
    "my_app",
    "my.app",
    "system:admin",
    "a:b-c.d_e",
    "A1",
    "a".repeat(255),
    "a" + "-".repeat(253) + "b",
  ];
  for (const name of valid) {
    it(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
      assert.deepEqual(checkResourceName(name), []);
      assert.deepEqual(checkResourceNamespace(name), []);
      assert.equal(isValidResourceName(name), true);
    });
  }

  const invalid = [
    "",
    "-a",
    "a-",
    ".a",
    "a.",
    ":a",
    "a:",
    "a b",
    "a/b",
    "a\n",
    "\na",
    "é",
    "aé",
    "a".repeat(256),
    "a\u0000b",
    "ＡＢ",
    "a\tb",
    "a%b",
  ];
  for (const name of invalid) {
    it(`rejects ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
      assert.deepEqual(checkResourceName(name), [{ path: [], message: NAME }]);
      assert.deepEqual(checkResourceNamespace(name), [{ path: [], message: NAMESPACE }]);
    });
  }

  it("rejects non-strings without throwing", () => {
    for (const v of [null, undefined, 1, {}, [], true, ["a"]]) {
      assert.deepEqual(checkResourceName(v), [{ path: [], message: NAME }]);
      assert.deepEqual(checkResourceNamespace(v), [{ path: [], message: NAMESPACE }]);
    }
  });
});
