import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normaliseArgv, splitValues, VALUE_SEPARATOR as S } from "./argv.js";

describe("normaliseArgv", () => {
  it("folds the two values of --metric, --global-metric and -m", () => {
    assert.deepEqual(
      normaliseArgv(["--metric", "a", "1", "x", "-m", "b", "2", "--global-metric", "c", "3"]),
      [`--metric=a${S}1`, "x", `--metric=b${S}2`, `--global-metric=c${S}3`],
    );
  });

  it("leaves a pair flag with one value alone so that commander reports it", () => {
    assert.deepEqual(normaliseArgv(["--metric", "a"]), ["--metric", "a"]);
  });

  it("stops at --", () => {
    assert.deepEqual(normaliseArgv(["--", "--metric", "a", "1"]), ["--", "--metric", "a", "1"]);
  });

  it("--wait takes a state word, else stays bare and leaves the NAME positional", () => {
    assert.deepEqual(normaliseArgv(["--wait", "echo-demo"]), ["--wait=", "echo-demo"]);
    assert.deepEqual(normaliseArgv(["--wait", "Running", "echo-demo"]), ["--wait=Running", "echo-demo"]);
    assert.deepEqual(normaliseArgv(["echo-demo", "--wait"]), ["echo-demo", "--wait="]);
  });

  it("--hook-shutdown takes up to timeout, strategy and retries", () => {
    assert.deepEqual(normaliseArgv(["--hook-shutdown", "app"]), ["--hook-shutdown=", "app"]);
    assert.deepEqual(normaliseArgv(["--hook-shutdown", "30", "app"]), ["--hook-shutdown=30", "app"]);
    assert.deepEqual(normaliseArgv(["--hook-shutdown", "30", "my-app", "-o", "json"]), [
      "--hook-shutdown=30",
      "my-app",
      "-o",
      "json",
    ]);
    assert.deepEqual(normaliseArgv(["--hook-shutdown", "30", "typo", "app"]), [
      `--hook-shutdown=30${S}typo`,
      "app",
    ]);
    assert.deepEqual(normaliseArgv(["--hook-shutdown", "30", "delete", "3", "app"]), [
      `--hook-shutdown=30${S}delete${S}3`,
      "app",
    ]);
  });

  it("-i takes KEY=VALUE tokens only; --allowed-values integers only", () => {
    assert.deepEqual(normaliseArgv(["-i", "A=1", "B=2", "app"]), [`--inject=A=1${S}B=2`, "app"]);
    assert.deepEqual(normaliseArgv(["--allowed-values", "3", "-1", "m1"]), [
      `--allowed-values=3${S}-1`,
      "m1",
    ]);
  });

  it("splitValues undoes the folding", () => {
    assert.deepEqual(splitValues(""), []);
    assert.deepEqual(splitValues(`a${S}b`), ["a", "b"]);
  });
});
