/**
 * `rok kube template` (ClusterTemplate) and `rok kube gtemplate` (GlobalClusterTemplate): the real rok binary
 * against a real API (docs/autoscaling.md).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { KindDef } from "../../src/resources/kind.js";
import { ClusterTemplate, GlobalClusterTemplate } from "../../src/resources/registry.js";
import { poolTosca } from "../support/fixtures.js";
import { tableRows, useRokApi } from "../support/rok.js";

const NS = "system:admin";

const t = useRokApi(undefined, async ({ sb }) => {
  await writeFile(join(sb.dir, "pool.yaml"), stringify(poolTosca()));
  await writeFile(join(sb.dir, "pool-big.yaml"), stringify(poolTosca(1, 8, "32 GB")));
  // A whole template document: its spec is taken (metadata and kind are the command's business).
  await writeFile(
    join(sb.dir, "spec-doc.yaml"),
    stringify({
      api: "kubernetes",
      kind: "GlobalClusterTemplate",
      metadata: { name: "ignored" },
      spec: { tosca: poolTosca(), clusters: { min: 1, max: 2 }, workers: { cpu: "2", memory: "4Gi" } },
    }),
  );
  // A bare spec mapping, without a TOSCA: -f gives it.
  await writeFile(join(sb.dir, "spec.yaml"), stringify({ inputs: { wn_cpus: 4 }, retention: 60 }));
  await writeFile(join(sb.dir, "two.yaml"), `${stringify(poolTosca())}---\n${stringify(poolTosca())}`);
});

const rok = (args: string[]) => t.sb.rok(args);
const json = (s: string) => JSON.parse(s);
/** The value cell of a row of a single-object table. */
const row = (table: string, name: string) =>
  table
    .split("\n")
    .find((l) => l.startsWith(`| ${name} `))
    ?.split("|")[2]
    ?.trim();

const KINDS: { cmd: string; alias: string; def: KindDef }[] = [
  { cmd: "template", alias: "tmpl", def: ClusterTemplate },
  { cmd: "gtemplate", alias: "gtmpl", def: GlobalClusterTemplate },
];

for (const { cmd, alias, def } of KINDS) {
  const ns = def.namespaced ? NS : null;
  const stored = (name: string) => t.api.client.kind(def).get(name, ns);

  describe(`rok kube ${cmd} (${def.kind})`, () => {
    it("create sends every spec flag; -o json prints the object the API stored", async () => {
      const r = await rok([
        "kube",
        cmd,
        "create",
        "-f",
        "pool.yaml",
        "--input",
        "wn_cpus=4",
        "--input",
        "wn_mem=8 GB",
        "-l",
        "tier=burst",
        "-L",
        "location=DE",
        "-M",
        "electricity_cost_1 < 0.5",
        "--metric",
        "heat",
        "2",
        "--global-metric",
        "electricity_cost_1",
        "10",
        "--no-inherit-labels",
        "--min-clusters",
        "1",
        "--max-clusters",
        "4",
        "--retention",
        "120",
        "--initial-workers",
        "2",
        "--worker-cpu",
        "3500m",
        "--worker-memory",
        "7Gi",
        "--worker-pods",
        "50",
        "--autoscale",
        "1:5",
        "--scale-up-cooldown",
        "30",
        "--max-concurrent-boots",
        "3",
        "--scale-down-idle",
        "300",
        "--scale-down-utilization",
        "0.25",
        "--scale-down-cooldown",
        "120",
        "--no-scale-down",
        "small",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const o = json(r.stdout);
      assert.equal(o.kind, def.kind);
      assert.equal(o.metadata.namespace, ns);
      const s = o.spec;
      assert.deepEqual(s.tosca, poolTosca());
      assert.deepEqual(s.inputs, { wn_cpus: 4, wn_mem: "8 GB" }, "values are YAML scalars");
      assert.deepEqual(s.labels, { tier: "burst" });
      assert.equal(s.inherit_labels, false);
      assert.equal(s.inherit_metrics, true);
      assert.deepEqual(s.constraints.cloud, {
        labels: ["location=DE"],
        metrics: ["electricity_cost_1 < 0.5"],
      });
      assert.deepEqual(s.metrics, [
        { name: "heat", weight: 2, namespaced: true },
        { name: "electricity_cost_1", weight: 10, namespaced: false },
      ]);
      assert.deepEqual(s.clusters, { min: 1, max: 4 });
      assert.equal(s.retention, 120);
      assert.deepEqual(s.workers, {
        input: "wn_num",
        system: "wn",
        initial: 2,
        cpu: "3500m",
        memory: "7Gi",
        pods: 50,
      });
      assert.deepEqual(s.autoscaling, {
        workers: { input: "wn_num", system: "wn", min: 1, max: 5 },
        scale_up: {
          unschedulable_pods: true,
          pressure: false,
          metric: null,
          cooldown: 30,
          max_concurrent: 3,
        },
        scale_down: { enabled: false, idle_time: 300, utilization_below: 0.25, metric: null, cooldown: 120 },
      });
      assert.deepEqual((await stored("small")).spec, s);
    });

    it("create prints the template as a table; fields not given get the API's defaults", async () => {
      const r = await rok(["kube", alias, "create", "-f", "pool.yaml", "--input", "wn_cpus=2", "plain"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(row(r.stdout, "name"), "plain");
      assert.equal(row(r.stdout, "namespace"), def.namespaced ? NS : "None");
      assert.equal(row(r.stdout, "clusters"), "0..3");
      assert.equal(row(r.stdout, "workers"), "1 (wn_num)");
      assert.equal(row(r.stdout, "inputs"), "wn_cpus: 2");
      assert.equal(row(r.stdout, "autoscaling"), "None");
      assert.equal(row(r.stdout, "retention"), "600");
      const s = (await stored("plain")).spec as any;
      assert.equal(s.inherit_labels, true);
      assert.equal(s.autoscaling, null);
    });

    it("--spec-file takes a spec mapping or a whole template document; flags apply on top", async () => {
      let r = await rok([
        "kube",
        cmd,
        "create",
        "--spec-file",
        "spec-doc.yaml",
        "--max-clusters",
        "3",
        "doc",
      ]);
      assert.equal(r.code, 0, r.stderr);
      let s = (await stored("doc")).spec as any;
      assert.deepEqual(s.clusters, { min: 1, max: 3 });
      assert.equal(s.workers.cpu, "2");
      r = await rok([
        "kube",
        cmd,
        "create",
        "--spec-file",
        "spec.yaml",
        "-f",
        "pool.yaml",
        "bare",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      s = json(r.stdout).spec;
      assert.deepEqual(s.inputs, { wn_cpus: 4 });
      assert.equal(s.retention, 60);
      assert.deepEqual(s.tosca, poolTosca());
    });

    it("list (alias too): the kind's columns; -o wide adds labels_given and autoscaling; json and name", async () => {
      let r = await rok(["kube", alias, "list"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout.split("\n")[1],
        /^\| name +\| namespace +\| labels +\| created +\| modified +\| deleted +\| clusters +\| workers +\|$/,
      );
      const rows = tableRows(r.stdout);
      assert.deepEqual(rows.map((c) => c[0]).sort(), ["bare", "doc", "plain", "small"]);
      const small = rows.find((c) => c[0] === "small")!;
      assert.deepEqual(small.slice(-2), ["1..4", "2 (wn_num)"]);
      r = await rok(["kube", cmd, "list", "-o", "wide"]);
      assert.match(r.stdout.split("\n")[1], /\| workers +\| labels_given +\| autoscaling +\|$/);
      assert.deepEqual(
        tableRows(r.stdout)
          .find((c) => c[0] === "small")!
          .slice(-2),
        ["tier: burst", "1..5 workers"],
      );
      r = await rok(["kube", cmd, "list", "-o", "json"]);
      assert.deepEqual(
        json(r.stdout)
          .map((o: any) => o.metadata.name)
          .sort(),
        ["bare", "doc", "plain", "small"],
      );
      r = await rok(["kube", cmd, "list", "-o", "name"]);
      assert.deepEqual(r.stdout.trim().split("\n").sort(), ["bare", "doc", "plain", "small"]);
    });

    it("get shows the template in a table (inputs, metrics, constraints) or as json", async () => {
      let r = await rok(["kube", cmd, "get", "small"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(row(r.stdout, "clusters"), "1..4");
      assert.equal(row(r.stdout, "autoscaling"), "1..5 workers");
      assert.equal(row(r.stdout, "labels_given"), "tier: burst");
      assert.equal(row(r.stdout, "cloud label constraints"), "location=DE");
      assert.equal(row(r.stdout, "retention"), "120");
      assert.match(r.stdout, /\| inputs +\| wn_cpus: 4 +\|\n\| +\| wn_mem: 8 GB +\|/);
      assert.match(r.stdout, /\| metrics +\| heat: 2 +\|/);
      r = await rok(["kube", alias, "get", "small", "-o", "json"]);
      assert.deepEqual(json(r.stdout), await stored("small"));
      r = await rok(["kube", cmd, "get", "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 404/);
    });

    it("update: -f replaces the TOSCA, inputs and labels merge, constraints append, bounds and policy change", async () => {
      const r = await rok([
        "kube",
        cmd,
        "update",
        "-f",
        "pool-big.yaml",
        "--input",
        "wn_cpus=8",
        "-l",
        "team=ops",
        "-L",
        "tier=gold",
        "--metric",
        "heat",
        "5",
        "--max-clusters",
        "6",
        "--initial-workers",
        "3",
        "--autoscale",
        "2:8",
        "--scale-down",
        "small",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const s = json(r.stdout).spec;
      assert.deepEqual(s.tosca, poolTosca(1, 8, "32 GB"));
      assert.deepEqual(s.inputs, { wn_cpus: 8, wn_mem: "8 GB" });
      assert.deepEqual(s.labels, { tier: "burst", team: "ops" });
      assert.deepEqual(s.constraints.cloud.labels, ["location=DE", "tier=gold"]);
      assert.deepEqual(s.metrics[0], { name: "heat", weight: 5, namespaced: true }, "a new weight replaces");
      assert.equal(s.metrics.length, 2);
      assert.deepEqual(s.clusters, { min: 1, max: 6 });
      assert.equal(s.workers.initial, 3);
      assert.deepEqual(s.autoscaling.workers, { input: "wn_num", system: "wn", min: 2, max: 8 });
      assert.equal(s.autoscaling.scale_up.cooldown, 30, "tuning not given is kept");
      assert.equal(s.autoscaling.scale_down.enabled, true);
    });

    it("update --remove-existing-*, --no-autoscale, --spec-file replacing the spec", async () => {
      let r = await rok([
        "kube",
        cmd,
        "update",
        "--remove-existing-inputs",
        "--remove-existing-labels",
        "--remove-existing-metrics",
        "--remove-existing-cloud-label-constraints",
        "--remove-existing-cloud-metric-constraints",
        "--input",
        "wn_mem=16 GB",
        "--no-autoscale",
        "small",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      let s = json(r.stdout).spec;
      assert.deepEqual(s.inputs, { wn_mem: "16 GB" });
      assert.deepEqual(s.labels, {});
      assert.deepEqual(s.metrics, []);
      assert.deepEqual(s.constraints.cloud, { labels: [], metrics: [] });
      assert.equal(s.autoscaling, null);
      // The policy added counts the template's workers (the API wants the same input and system).
      r = await rok([
        "kube",
        cmd,
        "update",
        "--spec-file",
        "spec-doc.yaml",
        "--autoscale",
        "1:2",
        "doc",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      s = json(r.stdout).spec;
      assert.deepEqual(s.clusters, { min: 1, max: 2 }, "the file's spec replaced the stored one");
      assert.deepEqual(s.autoscaling.workers, { input: "wn_num", system: "wn", min: 1, max: 2 });
    });

    it("the API's checks come back naming the field (422, exit 1); nothing is stored", async () => {
      const cases: [string[], RegExp][] = [
        [["--input", "nope=1"], /\n {2}spec\.inputs\.nope: The TOSCA template has no input 'nope'\./],
        [
          ["--min-clusters", "3", "--max-clusters", "2"],
          /\n {2}spec\.clusters\.max: Must not be below clusters\.min/,
        ],
        [["--autoscale", "1:2", "--initial-workers", "5"], /\n {2}spec\.workers\.initial: Must be within/],
        [
          ["--workers-input", "wn_cpus"],
          /\n {2}spec\.workers\.system: Node 'wn' of the TOSCA template is not scaled/,
        ],
        [["--worker-cpu", "lots"], /\n {2}spec\.workers\.cpu: Not a positive resource quantity/],
      ];
      for (const [flags, message] of cases) {
        const r = await rok(["kube", cmd, "create", "-f", "pool.yaml", ...flags, "refused"]);
        assert.equal(r.code, 1, `${flags.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, /^Error: 422 /);
        assert.match(r.stderr, message, flags.join(" "));
      }
      await assert.rejects(stored("refused"), /404|not found/i);
    });

    it("usage errors name the flag and exit 2 before anything is sent", async () => {
      const cases: [string[], RegExp][] = [
        [
          ["-f", "pool.yaml", "--autoscale", "5:2"],
          /'--autoscale <min:max>' argument '5:2' is invalid\. MIN \(5\) must not be above MAX \(2\)/,
        ],
        [
          ["-f", "pool.yaml", "--autoscale", "3"],
          /'--autoscale <min:max>' argument '3' is invalid\. expected MIN:MAX/,
        ],
        [["-f", "pool.yaml", "--autoscale", "0:0"], /MAX must be at least 1/],
        [["-f", "pool.yaml", "--max-clusters", "0"], /'--max-clusters <n>' argument '0' is invalid/],
        [["-f", "pool.yaml", "--retention", "soon"], /'--retention <seconds>' argument 'soon' is invalid/],
        [
          ["-f", "pool.yaml", "--scale-down-utilization", "2"],
          /'--scale-down-utilization <share>' argument '2' is invalid\. expected a share between 0 and 1/,
        ],
        [
          ["-f", "pool.yaml", "--input", "wn_cpus"],
          /'--input <name=value>' argument 'wn_cpus' is invalid\. expected NAME=VALUE/,
        ],
        [["-f", "pool.yaml", "--input", "wn_cpus=[1, 2]"], /the value of 'wn_cpus' must be a scalar/],
        [
          ["-f", "pool.yaml", "--scale-up-cooldown", "10"],
          /--scale-up-cooldown: the new \w+ has no autoscaling policy to tune; add --autoscale MIN:MAX/,
        ],
        [[], /a template needs a TOSCA template: give -f FILE/],
        [["--spec-file", "spec.yaml"], /a template needs a TOSCA template/],
      ];
      for (const [flags, message] of cases) {
        const r = await rok(["kube", cmd, "create", ...flags, "bad"]);
        assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, flags.join(" "));
        assert.equal(r.stdout, "");
      }
      const r = await rok(["kube", cmd, "update", "--no-autoscale", "--scale-down-idle", "5", "small"]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /--no-autoscale removes the policy: it cannot be combined with --scale-down-idle/,
      );
      await assert.rejects(stored("bad"), /404|not found/i);
    });

    it("file problems name the flag and the file (exit 1)", async () => {
      let r = await rok(["kube", cmd, "create", "-f", "missing.yaml", "bad"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--file: cannot read missing\.yaml: no such file/);
      r = await rok(["kube", cmd, "create", "-f", "two.yaml", "bad"]);
      assert.match(r.stderr, /--file: two\.yaml holds 2 YAML documents; expected one/);
      r = await rok(["kube", cmd, "update", "--spec-file", "missing.yaml", "small"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--spec-file: cannot read missing\.yaml/);
    });

    it("tuning a template without a policy on update says so (exit 1)", async () => {
      const r = await rok(["kube", cmd, "update", "--max-concurrent-boots", "4", "plain"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`--max-concurrent-boots: ${def.kind} plain has no autoscaling policy to tune`),
      );
    });

    if (def.namespaced) {
      it("-n picks the namespace; -a lists every namespace", async () => {
        let r = await rok([
          "kube",
          cmd,
          "create",
          "-f",
          "pool.yaml",
          "-n",
          "team-b",
          "elsewhere",
          "-o",
          "json",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(json(r.stdout).metadata.namespace, "team-b");
        r = await rok(["kube", cmd, "list", "-o", "name"]);
        assert.ok(!r.stdout.includes("elsewhere"));
        r = await rok(["kube", cmd, "list", "-a", "-o", "name"]);
        assert.ok(r.stdout.includes("elsewhere"), r.stdout);
      });
    } else {
      it("is global: -n is a usage error", async () => {
        const r = await rok(["kube", cmd, "list", "-n", "team-b"]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /unknown option '-n'/);
      });
    }

    it("delete marks the template deleted; a missing one exits 1 (404)", async () => {
      let r = await rok(["kube", cmd, "delete", "plain", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(json(r.stdout).metadata.deleted);
      r = await rok(["kube", alias, "delete", "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 404/);
    });
  });
}

describe("rok kube template: help and completion", () => {
  it("help lists the groups with their aliases and examples", async () => {
    let r = await rok(["kube", "--help"]);
    assert.match(r.stdout, /template\|tmpl/);
    assert.match(r.stdout, /gtemplate\|gtmpl/);
    r = await rok(["kube", "tmpl", "create", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\$ rok kube template create -f im-cluster\.yaml --input wn_cpus=4/);
    for (const flag of ["--spec-file", "--autoscale <min:max>", "--no-scale-down", "--worker-memory"])
      assert.ok(r.stdout.includes(flag), flag);
    r = await rok(["kube", "gtmpl", "update", "--help"]);
    assert.ok(r.stdout.includes("--no-autoscale"));
    assert.ok(r.stdout.includes("--remove-existing-inputs"));
  });

  it("rok completion bash completes the new commands and their flags", async () => {
    const bash = await rok(["completion", "bash"]);
    assert.equal(bash.code, 0, bash.stderr);
    assert.match(bash.stdout, /"kubernetes"\) words="[^"]*\btemplate tmpl gtemplate gtmpl\b/);
    const script = join(t.sb.dir, "rok.bash");
    await writeFile(script, bash.stdout);
    const complete = (words: string[]) =>
      execFileSync("bash", [
        "-c",
        `source ${script}; COMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _rok_complete; echo "\${COMPREPLY[@]}"`,
      ])
        .toString()
        .trim();
    assert.equal(complete(["rok", "kube", "tmpl", "c"]), "create");
    assert.equal(complete(["rok", "kube", "gtemplate", "update", "--no-a"]), "--no-autoscale");
    assert.equal(complete(["rok", "kube", "cluster", "ev"]), "events");
    assert.equal(
      complete(["rok", "kube", "cluster", "create", "--autoscale-"]),
      "--autoscale-input --autoscale-system",
    );
    const fish = await rok(["completion", "fish"]);
    assert.match(
      fish.stdout,
      /complete -c rok -n "__rok_at 'kubernetes gtemplate create'" [^\n]*-l max-clusters/,
    );
  });
});

describe("docs/autoscaling.md: the walkthrough of 'Using it' runs as written", () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));

  /** The rok commands of the section's code block: continuation lines joined, comments and `&&` tails cut. */
  async function walkthrough(): Promise<string[][]> {
    const doc = await readFile(join(root, "docs/autoscaling.md"), "utf8");
    const section = doc.slice(doc.indexOf("\n## Using it\n"));
    const block = section.slice(
      section.indexOf("```sh\n") + 6,
      section.indexOf("\n```", section.indexOf("```sh")),
    );
    const lines = block.replace(/\\\n\s*/g, "").split("\n");
    return lines
      .filter((l) => l.startsWith("rok "))
      .map((l) => {
        const words: string[] = [];
        for (const m of l.matchAll(/"([^"]*)"|(\S+)/g)) {
          if (m[2] === "#" || m[2] === "&&") break;
          words.push(m[1] ?? m[2]);
        }
        return words.slice(1);
      });
  }

  it("every command succeeds against the API (--watch left out), in order", async () => {
    await cp(join(root, "examples"), join(t.sb.dir, "examples"), { recursive: true });
    await writeFile(
      join(t.sb.dir, "small-k8s-spec.yaml"),
      stringify({ tosca: poolTosca(), clusters: { max: 2 } }),
    );
    let r = await rok(["kube", "cluster", "create", "-f", "examples/im-cluster.yaml", "my-cluster"]);
    assert.equal(r.code, 0, r.stderr);
    const commands = await walkthrough();
    assert.ok(commands.length >= 8, `only ${commands.length} commands`);
    for (const args of commands) {
      r = await rok(args.filter((a) => a !== "--watch"));
      assert.equal(r.code, 0, `rok ${args.join(" ")}: ${r.stderr}`);
    }
    const policy = (await t.api.client.kind(GlobalClusterTemplate).get("small-k8s")).spec as any;
    assert.deepEqual(policy.inputs, { wn_cpus: 4, wn_mem: "8 GB" });
  });
});
