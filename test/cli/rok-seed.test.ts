/**
 * The seed walkthrough of the rok issue, run verbatim against a real `krake api` (the steps that need
 * controllers only show their API effect here: PENDING objects, deletion marks).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableRows, useRokApi } from "../support/rok.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

const t = useRokApi(undefined, async ({ sb }) => {
  for (const f of ["im-cluster.yaml", "echo-demo.yaml"]) await copyFile(join(EXAMPLES, f), join(sb.dir, f));
});

/** Splits a shell-like line into argv (no quoting is needed by the walkthrough). */
const argv = (line: string) => line.trim().split(/\s+/).slice(1);

describe("seed walkthrough (rok issue), verbatim", () => {
  it("registers, creates, shows and deletes as an operator would", async () => {
    const step = async (line: string) => {
      const r = await t.rok(argv(line));
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
      return r.stdout;
    };
    await step(
      "rok infra provider register --type im --url http://localhost:8800 --username test --password test im-provider",
    );
    // Story 7: one row, im-provider, namespace system:admin, labels None, type im, url http://localhost:8800.
    const providers = tableRows(await step("rok infra provider list"));
    assert.equal(providers.length, 1);
    assert.deepEqual(
      [providers[0][0], providers[0][1], providers[0][2]],
      ["im-provider", "system:admin", "None"],
    );
    assert.deepEqual(providers[0].slice(-2), ["im", "http://localhost:8800"]);

    await step(
      "rok infra cloud register --type openstack --url https://keystone.example:5000/v3 --project demo --username demo --password demo-pw --infra-provider im-provider os-cloud",
    );
    // Story 9: type openstack, infra_provider im-provider, state ONLINE.
    const clouds = tableRows(await step("rok infra cloud list"));
    assert.equal(clouds.length, 1);
    assert.deepEqual([clouds[0][6], clouds[0][8], clouds[0][9]], ["openstack", "im-provider", "ONLINE"]);

    assert.deepEqual(tableRows(await step("rok kube cluster list")), [], "no clusters yet: only the header");
    const created = await step("rok kube cluster create -f im-cluster.yaml my-cluster");
    assert.match(created, /\| state +\| PENDING +\|/);
    const listed = tableRows(await step("rok kube cluster list"));
    assert.deepEqual(
      listed.map((r) => [r[0], r[6]]),
      [["my-cluster", "PENDING"]],
    );

    await step("rok kube app create -f echo-demo.yaml echo-demo");
    const app = await step("rok kube app get echo-demo");
    assert.match(app, /\| name +\| echo-demo +\|/);
    assert.match(app, /\| state +\| PENDING +\|/);
    assert.match(app, /\| running_on +\| None +\|/, "running_on is set by the controllers");

    assert.match(
      await step("rok kube cluster delete my-cluster"),
      /\| deleted +\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\|/,
    );
    assert.match(await step("rok infra cloud delete os-cloud"), /\| deleted +\| \d{4}-/);
    assert.match(await step("rok infra provider delete im-provider"), /\| deleted +\| \d{4}-/);
    assert.ok(!(await step("rok infra cloud get os-cloud")).includes("demo-pw"), "no password in tables");
  });
});
