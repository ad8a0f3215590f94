import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useRokApi } from "../support/rok.js";

// Wide tables, so that row assertions see whole cells (wrapping at 80 columns is tested separately).
const t = useRokApi();
const rok = (args: string[]) => t.rok(args);
const tables = (args: string[]) => t.tables(args);
const json = (s: string) => JSON.parse(s);

for (const [resource, namespaced] of [
  ["gmp", false],
  ["globalmetricsprovider", false],
  ["mp", true],
  ["metricsprovider", true],
] as const) {
  describe(`core ${resource}`, () => {
    const ns = namespaced ? ["-n", "team-m"] : [];
    const kind = namespaced ? "MetricsProvider" : "GlobalMetricsProvider";
    const n = (s: string) => `${s}-${resource}`;

    it("creates each provider type with its flags", async () => {
      const cases: [string, string[], Record<string, unknown>][] = [
        ["prom", ["--type", "prometheus", "--url", "http://prom:9090"], { url: "http://prom:9090" }],
        [
          "stat",
          ["--type", "static", "-m", "electricity_cost_1", "0.9", "--metric", "green_energy_ratio_1", "0.1"],
          { metrics: { electricity_cost_1: 0.9, green_energy_ratio_1: 0.1 } },
        ],
        [
          "kafka",
          [
            "--type",
            "kafka",
            "--url",
            "http://k",
            "--comparison-column",
            "c",
            "--value-column",
            "v",
            "--table",
            "t",
          ],
          { url: "http://k", comparison_column: "c", value_column: "v", table: "t" },
        ],
        [
          "influx",
          [
            "--type",
            "influx",
            "--url",
            "http://i",
            "--token",
            "influx-SECRET",
            "--org",
            "o",
            "--bucket",
            "b",
          ],
          { url: "http://i", token: "influx-SECRET", org: "o", bucket: "b" },
        ],
      ];
      for (const [name, flags, body] of cases) {
        const r = await rok(["core", resource, "create", n(name), ...flags, ...ns, "-o", "json"]);
        assert.equal(r.code, 0, r.stderr);
        const obj = json(r.stdout);
        assert.equal(obj.kind, kind);
        const type = flags[1];
        assert.deepEqual(obj.spec, { type, [type]: body });
      }
    });

    it("tables show the type rows and never the influx token", async () => {
      assert.ok(!(await tables(["core", resource, "get", n("influx"), ...ns])).includes("influx-SECRET"));
      let r = await rok(["core", resource, "get", n("influx"), ...ns]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\| org +\| o +\|/);
      r = await rok(["core", resource, "get", n("stat"), ...ns]);
      assert.match(
        r.stdout,
        /\| metrics +\| electricity_cost_1: 0\.9 +\|\n\| +\| green_energy_ratio_1: 0\.1 +\|/,
      );
      for (const out of ["table", "wide"]) {
        assert.ok(!(await tables(["core", resource, "list", ...ns, "-o", out])).includes("influx-SECRET"));
        r = await rok(["core", resource, "list", ...ns, "-o", out]);
        assert.equal(r.code, 0, r.stderr);
        for (const name of ["prom", "stat", "kafka", "influx"])
          assert.match(r.stdout, new RegExp(`\\| ${n(name)} +\\|`));
      }
      r = await rok(["core", resource, "get", n("influx"), ...ns, "-o", "yaml"]);
      assert.match(r.stdout, /token: influx-SECRET/);
    });

    it("type-specific flags are checked client-side (exit 1, nothing sent)", async () => {
      let r = await rok(["core", resource, "create", n("bad"), "--type", "prometheus", ...ns]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, "Error: Metrics provider type 'prometheus' requires --url to be specified\n");
      r = await rok([
        "core",
        resource,
        "create",
        n("bad"),
        "--type",
        "influx",
        "--url",
        "u",
        "--token",
        "t",
        ...ns,
      ]);
      assert.match(r.stderr, /requires --org to be specified/);
      r = await rok(["core", resource, "create", n("bad"), "--type", "static", ...ns]);
      assert.match(r.stderr, /requires --metric to be specified/);
      r = await rok([
        "core",
        resource,
        "create",
        n("bad"),
        "--type",
        "prometheus",
        "--url",
        "u",
        "--token",
        "t",
        ...ns,
      ]);
      assert.match(r.stderr, /type 'prometheus' does not take --token/);
      r = await rok(["core", resource, "create", n("bad"), "--type", "graphite", ...ns]);
      assert.equal(r.code, 2, "an unknown --type is a usage error");
      r = await rok(["core", resource, "get", n("bad"), ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 404 /);
    });

    it("update replaces the static metrics (cli.md story 3) and the url; a no-op update is 400", async () => {
      let r = await rok([
        "core",
        resource,
        "update",
        n("stat"),
        "--metric",
        "electricity_cost_1",
        "0.1",
        "--metric",
        "green_energy_ratio_1",
        "0.9",
        ...ns,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /electricity_cost_1: 0\.1/);
      assert.match(r.stdout, /green_energy_ratio_1: 0\.9/);
      r = await rok(["core", resource, "update", n("prom"), "--url", "http://new:9090", ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(json(r.stdout).spec.prometheus.url, "http://new:9090");
      r = await rok(["core", resource, "update", n("prom"), "--url", "http://new:9090", ...ns]);
      if (namespaced) {
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^Error: 400 UPDATE_ERROR/);
      } else {
        // Krake quirk (api.md): GlobalMetricsProvider answers 200 to a PUT without changes.
        assert.equal(r.code, 0, r.stderr);
      }
      r = await rok(["core", resource, "update", n("prom"), "--table", "t", ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /does not take --table/);
    });

    it("duplicate create is 409; delete prints the object (kept by its finalizer until a GC runs)", async () => {
      let r = await rok(["core", resource, "create", n("prom"), "--type", "prometheus", "--url", "u", ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 409 /);
      r = await rok(["core", resource, "delete", n("kafka"), ...ns, "-o", "name"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${n("kafka")}\n`);
      r = await rok(["core", resource, "get", n("kafka"), ...ns, "-o", "json"]);
      assert.ok(JSON.parse(r.stdout).metadata.deleted);
      r = await rok(["core", resource, "list", ...ns, "-o", "name"]);
      const mine = r.stdout
        .trim()
        .split("\n")
        .filter((x) => x.endsWith(`-${resource}`));
      assert.deepEqual(mine.sort(), [n("influx"), n("kafka"), n("prom"), n("stat")]);
    });
  });
}

describe("core mp list -a", () => {
  it("lists across namespaces", async () => {
    const r = await rok(["core", "mp", "list", "-a", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(json(r.stdout).every((o: any) => o.metadata.namespace === "team-m"));
    assert.equal(json(r.stdout).length, 8);
  });
});

for (const [resource, namespaced, providerFlag] of [
  ["gm", false, "--gmp-name"],
  ["globalmetric", false, "--gmp-name"],
  ["metric", true, "--mp-name"],
] as const) {
  describe(`core ${resource}`, () => {
    const ns = namespaced ? ["-n", "team-m"] : [];
    const name = `electricity_cost_${resource}`;

    it("create with defaults and with every flag", async () => {
      let r = await rok([
        "core",
        resource,
        "create",
        name,
        providerFlag,
        "static_provider",
        "--min",
        "0",
        "--max",
        "1",
        ...ns,
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const obj = json(r.stdout);
      assert.equal(obj.kind, namespaced ? "Metric" : "GlobalMetric");
      assert.deepEqual(obj.spec, {
        allowed_values: [],
        min: 0,
        max: 1,
        provider: { name: "static_provider", metric: name },
      });
      r = await rok([
        "core",
        resource,
        "create",
        `${name}-2`,
        providerFlag,
        "p",
        "--min",
        "-1.5",
        "--max",
        "10",
        "--metric-name",
        "m",
        ...ns,
        "--allowed-values",
        "3",
        "1",
        "2",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(json(r.stdout).spec, {
        allowed_values: [1, 2, 3],
        min: -1.5,
        max: 10,
        provider: { name: "p", metric: "m" },
      });
    });

    it("get as table shows provider, min, max and allowed_values", async () => {
      const r = await rok(["core", resource, "get", `${name}-2`, ...ns]);
      assert.equal(r.code, 0, r.stderr);
      for (const re of [
        /\| provider +\| p +\|/,
        /\| metric +\| m +\|/,
        /\| min +\| -1\.5 +\|/,
        /\| max +\| 10 +\|/,
        /\| allowed_values +\| 1 +\|\n\| +\| 2 +\|/,
      ]) {
        assert.match(r.stdout, re);
      }
      const l = await rok(["core", resource, "list", ...ns]);
      assert.match(
        l.stdout,
        /\| name +\| namespace +\| labels +\| created +\| modified +\| deleted +\| provider +\| min +\| max +\| allowed_values +\|/,
      );
    });

    it("required flags are usage errors; numbers are checked", async () => {
      let r = await rok(["core", resource, "create", "x", "--min", "0", "--max", "1", ...ns]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`required option '${providerFlag} <name>'`));
      r = await rok([
        "core",
        resource,
        "create",
        "x",
        providerFlag,
        "p",
        "--min",
        "low",
        "--max",
        "1",
        ...ns,
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--min: expected a number, got 'low'/);
      r = await rok([
        "core",
        resource,
        "create",
        "x",
        providerFlag,
        "p",
        "--min",
        "0",
        "--max",
        "1",
        "--allowed-values",
        "1.5",
        ...ns,
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /expected integers/);
    });

    it("update changes only the given fields; duplicate create 409; delete", async () => {
      let r = await rok([
        "core",
        resource,
        "update",
        name,
        "--max",
        "2",
        providerFlag,
        "other",
        ...ns,
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(json(r.stdout).spec, {
        allowed_values: [],
        min: 0,
        max: 2,
        provider: { name: "other", metric: name },
      });
      r = await rok(["core", resource, "update", name, "--max", "2", ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 400 /);
      r = await rok(["core", resource, "create", name, providerFlag, "p", "--min", "0", "--max", "1", ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 409 /);
      r = await rok(["core", resource, "delete", name, ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(json(r.stdout).metadata.deleted, "delete prints the object with `deleted` set");
    });
  });
}
