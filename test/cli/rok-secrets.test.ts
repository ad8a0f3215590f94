/**
 * `rok` tables never print a secret (api.md D6), for every kind that holds one: list, list -o wide and get,
 * both wrapped (80 columns) and unwrapped. `-o json` prints the object as the API returned it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { http } from "../support/api.js";
import { useRokApi } from "../support/rok.js";
import { secretBodies } from "../support/secrets.js";
import { KINDS } from "../../src/resources/registry.js";
import { forEachSecret } from "../../src/resources/secrets.js";

const NS = "rok-secrets";
const ctx = useRokApi({ COLUMNS: "1000", KRAKE_NAMESPACE: NS });

/** The rok command of each kind (short forms, docs/rok.md). */
const COMMANDS: Record<string, string[]> = {
  GlobalInfrastructureProvider: ["infra", "gprovider"],
  InfrastructureProvider: ["infra", "provider"],
  GlobalCloud: ["infra", "gcloud"],
  Cloud: ["infra", "cloud"],
  GlobalMetricsProvider: ["core", "gmp"],
  MetricsProvider: ["core", "mp"],
  Cluster: ["kube", "cluster"],
  Application: ["kube", "app"],
};

/** Every string inside the secret fields of `obj`. */
function secretStrings(def: (typeof KINDS)[number], obj: unknown): string[] {
  const out: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (v && typeof v === "object") Object.values(v).forEach(collect);
  };
  forEachSecret(obj, def.secrets!, (parent, key) => collect(parent[key]));
  return out;
}

describe("rok tables hide every declared secret", () => {
  for (const def of KINDS.filter((d) => d.secrets?.length)) {
    it(`${def.kind}: list, list -o wide, get`, async () => {
      const cmd = COMMANDS[def.kind];
      assert.ok(cmd, `a rok command for ${def.kind}`);
      const { body, status } = secretBodies[def.kind]();
      const base = def.namespaced
        ? `/${def.group}/namespaces/${NS}/${def.plural}`
        : `/${def.group}/${def.plural}`;
      const name = `with-secrets-${def.plural}`;
      const created = await http(ctx.api.url, "POST", base, { ...body, metadata: { name } });
      assert.equal(created.status, 200, created.text);
      let stored = created.body;
      if (status) {
        const res = await http(ctx.api.url, "PUT", `${base}/${name}/status`, {
          ...stored,
          status: { ...stored.status, ...status },
        });
        assert.equal(res.status, 200, res.text);
        stored = res.body;
      }
      const secrets = secretStrings(def, stored).filter((s) => s.startsWith("s3cret-"));
      assert.ok(secrets.length > 0, "the object holds secrets");

      const json = await ctx.rok([...cmd, "get", name, "-o", "json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.ok(
        secrets.every((s) => json.stdout.includes(s)),
        "-o json prints the object as returned",
      );

      for (const args of [["list"], ["list", "-o", "wide"], ["get", name]]) {
        const out = await ctx.tables([...cmd, ...args]);
        assert.ok(out.includes(name), `${args.join(" ")} shows the object:\n${out}`);
        for (const s of secrets)
          assert.ok(!out.includes(s), `${cmd.join(" ")} ${args.join(" ")} prints ${s}:\n${out}`);
      }
    });
  }
});
