import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { plain, quote, tooDeep, typeName } from "./util.js";

describe("quote", () => {
  it("quotes like Python's repr for ordinary strings", () => {
    assert.equal(quote("web"), "'web'");
    assert.equal(quote("it's"), `"it's"`);
    assert.equal(quote(`'"`), `'\\'"'`);
  });
  it("escapes control characters and cuts long values", () => {
    assert.equal(quote("a\nb\tc\u0000"), "'a\\nb\\tc\\x00'");
    assert.equal(quote("x".repeat(200)), `'${"x".repeat(80)}'...`);
  });
  it("shows non-strings as JSON", () => {
    assert.equal(quote(5), "5");
    assert.equal(quote(null), "null");
    assert.equal(quote({ a: [1] }), '{"a":[1]}');
    assert.equal(quote(undefined), "undefined");
    assert.equal(quote(10n), "[object BigInt]");
  });
});

describe("plain", () => {
  it("keeps simple names bare and quotes the rest", () => {
    assert.equal(plain("admin@k8s"), "admin@k8s");
    assert.equal(plain("a b"), "'a b'");
    assert.equal(plain(""), "''");
    assert.equal(plain(3), "3");
  });
});

describe("typeName", () => {
  it("names JSON types", () => {
    assert.deepEqual([null, [], {}, "", 1, true].map(typeName), [
      "null",
      "a list",
      "an object",
      "a string",
      "a number",
      "a boolean",
    ]);
  });
});

describe("tooDeep", () => {
  it("finds the first container below the limit", () => {
    assert.equal(tooDeep({ a: { b: {} } }, 2), null);
    assert.deepEqual(tooDeep({ a: { b: { c: {} } } }, 2), ["a", "b", "c"]);
    assert.deepEqual(tooDeep([[[[]]]], 2), [0, 0, 0]);
    assert.equal(tooDeep("x"), null);
  });
  it("survives cycles and shared references", () => {
    const a: any = { x: null };
    a.x = a;
    assert.equal(tooDeep(a, 5), null);
    const shared = { k: 1 };
    assert.equal(tooDeep({ a: shared, b: shared }), null);
  });
  it("handles very deep input iteratively", () => {
    let v: any = null;
    for (let i = 0; i < 200_000; i++) v = [v];
    assert.equal(tooDeep(v)?.length, 101);
  });
});
