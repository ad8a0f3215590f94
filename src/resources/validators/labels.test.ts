import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkLabels,
  isValidLabelKey,
  isValidLabelValue,
  labelKeyProblem,
  labelValueProblem,
} from "./labels.js";

describe("label keys", () => {
  const valid = [
    "a",
    "_",
    "app",
    "app.kubernetes.io/name",
    "k8s.io/zone",
    "a/b",
    "a-b_c.d",
    "x".repeat(63),
    `${"p".repeat(253)}/${"n".repeat(63)}`,
    "p-.q/n",
    "location",
  ];
  for (const key of valid) {
    it(`accepts ${key.length > 30 ? `${key.slice(0, 10)}…(${key.length})` : key}`, () => {
      assert.equal(labelKeyProblem(key), null);
      assert.equal(isValidLabelKey(key), true);
    });
  }

  const invalid: [string, RegExp][] = [
    ["", /it is empty/],
    ["x".repeat(64), /64 characters long, at most 63/],
    [`${"p".repeat(254)}/n`, /prefix before '\/' is 254 characters long, at most 253/],
    [`p/${"n".repeat(64)}`, /name after '\/' is 64 characters long/],
    ["a/b/c", /more than one '\/'/],
    ["/a", /prefix before '\/' is empty/],
    ["a/", /name after '\/' is empty/],
    ["-a", /begin and end with a letter, a digit or '_'/],
    ["a-", /begin and end/],
    [".a/b", /prefix before '\/' must begin and end/],
    ["a/b.", /name after '\/' must begin and end/],
    ["a b", /invalid character ' '/],
    ["a:b", /invalid character ':'/],
    ["é", /invalid character 'é'/],
    ["a\nb", /invalid character '\\n'/],
    ["a$", /invalid character '\$'/],
  ];
  for (const [key, why] of invalid) {
    it(`rejects ${JSON.stringify(key.length > 30 ? `${key.slice(0, 10)}…(${key.length})` : key)}`, () => {
      const problem = labelKeyProblem(key);
      assert.ok(problem, "expected a problem");
      assert.match(problem, why);
      assert.equal(isValidLabelKey(key), false);
    });
  }

  it("rejects non-strings", () => {
    for (const v of [null, undefined, 1, {}, []]) assert.match(labelKeyProblem(v)!, /must be a string/);
  });
});

describe("label values", () => {
  it("accepts 1-63 characters of the allowed set", () => {
    for (const v of ["a", "DE", "eu-west_1.b", "1", "_", "v".repeat(63), "1.0"])
      assert.equal(isValidLabelValue(v), true, v);
  });

  it("rejects empty, too long, slashes and bad edges", () => {
    assert.match(labelValueProblem("")!, /empty/);
    assert.match(labelValueProblem("v".repeat(64))!, /64 characters long/);
    assert.match(labelValueProblem("a/b")!, /invalid character '\/'/);
    assert.match(labelValueProblem("-a")!, /begin and end/);
    assert.match(labelValueProblem("a.")!, /begin and end/);
    assert.match(labelValueProblem(5)!, /must be a string, not a number/);
    assert.match(labelValueProblem(null)!, /not null/);
  });
});

describe("checkLabels", () => {
  it("accepts an empty mapping and valid labels", () => {
    assert.deepEqual(checkLabels({}), []);
    assert.deepEqual(checkLabels({ location: "DE", "app.kubernetes.io/name": "web" }), []);
  });

  it("keys issues by the label key, for a bad key and for a bad value", () => {
    const issues = checkLabels({ "foo/bar/baz": "ok", good: "", both$: "$" });
    assert.deepEqual(
      issues.map((i) => i.path),
      [["foo/bar/baz"], ["good"], ["both$"], ["both$"]],
    );
    assert.match(issues[0].message, /^Label key 'foo\/bar\/baz' is invalid: /);
    assert.match(issues[1].message, /^Label value '' is invalid: it is empty\.$/);
    assert.match(issues[2].message, /^Label key 'both\$' is invalid/);
    assert.match(issues[3].message, /^Label value '\$' is invalid/);
  });

  it("reports non-string values without throwing", () => {
    const issues = checkLabels({ a: 1, b: null, c: { x: 1 } } as any);
    assert.equal(issues.length, 3);
    assert.match(issues[0].message, /must be a string, not a number/);
  });

  it("handles prototype-looking keys as ordinary keys", () => {
    assert.deepEqual(checkLabels(JSON.parse('{"__proto__": "x", "constructor": "y"}')), []);
    const issues = checkLabels(JSON.parse('{"__proto__": "$", "constructor": "y"}'));
    assert.deepEqual(
      issues.map((i) => i.path),
      [["__proto__"]],
    );
  });

  it("rejects a non-object", () => {
    for (const v of [null, [], "a", 1])
      assert.deepEqual(checkLabels(v), [{ path: [], message: "Not a valid mapping type." }]);
  });

  it("keeps messages short for huge keys and values", () => {
    const big = "$".repeat(100_000);
    const issues = checkLabels({ [big]: big });
    assert.equal(issues.length, 2);
    for (const i of issues) assert.ok(i.message.length < 300, i.message.length.toString());
  });
});
