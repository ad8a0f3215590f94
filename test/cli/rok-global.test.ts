import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { startTestApi, type TestApi } from "../support/api.js";
import { rokSandbox } from "../support/rok.js";
import { cell, render, sortKeys } from "../../src/cli/rok/output.js";
import { buildProgram } from "../../src/cli/rok/program.js";
import type { Command } from "commander";
import { redactSecrets, REDACTED } from "../../src/cli/rok/redact.js";
import { renderTable } from "../../src/cli/rok/table.js";
import { loadConfig } from "../../src/cli/rok/config.js";
import { GlobalInfrastructureProvider } from "../../src/resources/registry.js";

let api: TestApi;
/** A URL nobody listens on: a port that was free a moment ago. */
let down: string;
let sb: Awaited<ReturnType<typeof rokSandbox>>;
before(async () => {
  api = await startTestApi();
  sb = await rokSandbox(api.url);
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  down = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise((resolve) => probe.close(resolve));
});
after(async () => {
  await sb.cleanup();
  await api.close();
});

describe("rok: help and usage", () => {
  it("--help works at every level of the command tree, aliases included, each with an example", async () => {
    const levels: string[][] = [];
    const walk = (cmd: Command, path: string[]) => {
      levels.push(path);
      for (const sub of cmd.commands) {
        if (sub.name() === "help") continue;
        walk(sub, [...path, sub.name()]);
        // Aliases are checked one level deep: `kube app`, `infra gip`, …
        for (const alias of sub.aliases()) levels.push([...path, alias]);
      }
    };
    walk(buildProgram(), []);
    assert.ok(levels.length > 60, `the tree has every command (${levels.length})`);
    const queue = [...levels];
    const worker = async () => {
      for (let args = queue.shift(); args; args = queue.shift()) {
        const r = await sb.rok([...args, "--help"]);
        assert.equal(r.code, 0, `${args.join(" ")} --help: ${r.stderr}`);
        assert.match(r.stdout, /Examples?:\n {2}\$ (rok|source) /, `${args.join(" ")} --help has an example`);
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    const leaf = await sb.rok(["infra", "provider", "list", "--help"]);
    for (const flag of ["--config", "--output", "--namespace", "--all"])
      assert.ok(leaf.stdout.includes(flag), flag);
    const top = await sb.rok(["--help"]);
    assert.match(top.stdout, /infrastructure\|infra/);
    assert.match(top.stdout, /kubernetes\|kube/);
  });

  it("usage errors exit 2: unknown command, unknown flag, missing argument, bad -o", async () => {
    for (const args of [
      ["nope"],
      ["infra", "gip", "list", "--bogus"],
      ["infra", "gip", "get"],
      ["infra", "gip", "list", "-o", "xml"],
      ["infra", "gip", "list", "-n", "x"],
      ["infra"],
    ]) {
      const r = await sb.rok(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.notEqual(r.stderr, "");
    }
  });

  it("--print-completion prints a script for bash, zsh and tcsh; another shell is a usage error", async () => {
    const bash = await sb.rok(["--print-completion", "bash"]);
    assert.equal(bash.code, 0, bash.stderr);
    assert.match(bash.stdout, /complete -F _rok_complete rok krakectl/);
    assert.match(bash.stdout, /"infrastructure globalinfrastructureprovider register"\) words="[^"]*--password-stdin/);
    assert.match(
      bash.stdout,
      /"core"\) words="globalmetricsprovider gmp metricsprovider mp globalmetric gm metric/,
    );
    const zsh = await sb.rok(["--print-completion", "zsh"]);
    assert.match(zsh.stdout, /^autoload -U \+X bashcompinit/);
    const tcsh = await sb.rok(["--print-completion", "tcsh"]);
    assert.match(tcsh.stdout, /^complete rok 'p\/1\/\(completion whoami kubernetes kube infrastructure infra core/);
    const fish = await sb.rok(["completion", "fish"]);
    assert.equal(fish.code, 0, fish.stderr);
    assert.match(fish.stdout, /complete -c rok -n "__rok_at 'kubernetes application'" -a '[^']*\bcreate\b/);
    assert.match(fish.stdout, /complete -c rok -n "__rok_at 'kubernetes application create'" [^\n]*-l hook-shutdown/);
    assert.match(fish.stdout, /case kube\n +set w kubernetes/);
    // The bash script really completes: source it and ask for "rok kube app c<TAB>".
    const script = join(sb.dir, "rok.bash");
    await writeFile(script, bash.stdout);
    const completed = execFileSync("bash", [
      "-c",
      `source ${script}; COMP_WORDS=(rok kube app c); COMP_CWORD=3; _rok_complete; echo "\${COMPREPLY[@]}";` +
        ` COMP_WORDS=(rok infra gip register --pass); COMP_CWORD=4; _rok_complete; echo "\${COMPREPLY[@]}"`,
    ]).toString();
    assert.deepEqual(completed.trim().split("\n"), ["create", "--password --password-stdin"]);
    const viaCommand = await sb.rok(["completion", "bash"]);
    assert.equal(viaCommand.stdout, bash.stdout, "rok completion bash = rok --print-completion bash");
    const csh = await sb.rok(["completion", "csh"]);
    assert.equal(csh.code, 2);
    assert.match(csh.stderr, /unknown shell 'csh'/);
  });

  it("--version prints the version", async () => {
    const r = await sb.rok(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe("rok: connection and configuration", () => {
  it("a server that is down: one readable line, exit 1", async () => {
    const r = await sb.rok(["infra", "gip", "list"], { env: { KRAKE_URL: down } });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `Error: cannot reach the Krake API at ${down}: ECONNREFUSED. Start it with \`npx krake api\` or set api_url/KRAKE_URL.\n`,
    );
  });

  it("./rok.yaml, ./krakectl.yaml and $XDG_CONFIG_HOME/krakectl.yaml are read; KRAKE_URL overrides", async () => {
    const cfg = await rokSandbox(null);
    try {
      await writeFile(join(cfg.dir, "krakectl.yaml"), `api_url: ${api.url}\nuser: from-file\n`);
      let r = await cfg.rok(["infra", "provider", "list", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), []);
      // The file's `user` is the default namespace.
      r = await cfg.rok([
        "infra",
        "provider",
        "register",
        "p",
        "--type",
        "im",
        "--url",
        "http://im",
        "--token",
        "t",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).metadata.namespace, "from-file");
      // KRAKE_URL wins over the file.
      r = await cfg.rok(["infra", "provider", "list"], { env: { KRAKE_URL: down } });
      assert.equal(r.code, 1);
      // --config names another file; a missing one is an error.
      await mkdir(join(cfg.dir, "sub"));
      await writeFile(join(cfg.dir, "sub", "other.yaml"), `api_url: ${down}\n`);
      r = await cfg.rok(["infra", "provider", "list", "--config", "sub/other.yaml"]);
      assert.match(r.stderr, /cannot reach the Krake API at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      r = await cfg.rok(["infra", "provider", "list", "--config", "missing.yaml"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, "Error: configuration file not found: missing.yaml\n");
    } finally {
      await cfg.cleanup();
    }
  });

  it("loadConfig: lookup order, defaults, env overrides and the tls scheme rule", async () => {
    const cfg = await rokSandbox(null);
    try {
      const env = { XDG_CONFIG_HOME: join(cfg.dir, "xdg") };
      await mkdir(env.XDG_CONFIG_HOME);
      const defaults = loadConfig(undefined, env, cfg.dir);
      assert.equal(defaults.source === null || defaults.source === "/etc/krakectl/krakectl.yaml", true);
      if (defaults.source === null) {
        assert.equal(defaults.api_url, "http://localhost:8080");
        assert.equal(defaults.user, "system:admin");
      }
      await writeFile(join(env.XDG_CONFIG_HOME, "krakectl.yaml"), "api_url: http://xdg:1\nuser: xdg\n");
      assert.equal(loadConfig(undefined, env, cfg.dir).api_url, "http://xdg:1");
      await writeFile(join(cfg.dir, "krakectl.yaml"), "api_url: http://cwd:1\n");
      assert.equal(loadConfig(undefined, env, cfg.dir).api_url, "http://cwd:1");
      await writeFile(join(cfg.dir, "rok.yaml"), "api_url: https://rok:1\ntls:\n  enabled: false\n");
      const forced = loadConfig(undefined, env, cfg.dir);
      assert.equal(forced.api_url, "http://rok:1");
      assert.equal(forced.warnings.length, 1);
      const overridden = loadConfig(
        undefined,
        { ...env, KRAKE_URL: "http://env:2", KRAKE_NAMESPACE: "ns-env" },
        cfg.dir,
      );
      assert.equal(overridden.api_url, "http://env:2");
      assert.equal(overridden.user, "ns-env");
    } finally {
      await cfg.cleanup();
    }
  });
});

describe("rok: output helpers", () => {
  it("cells: datetimes, None for null and empty containers, one k: v per line", () => {
    assert.equal(cell("2026-11-22T13:40:20.304814+00:00"), "2026-11-22 13:40:20");
    assert.equal(cell(null), "None");
    assert.equal(cell({}), "None");
    assert.equal(cell([]), "None");
    assert.equal(cell({ a: "1", b: "2" }), "a: 1\nb: 2");
    assert.equal(cell(["x", "y"]), "x\ny");
    assert.equal(cell(0), "0");
  });

  it("sortKeys sorts every level", () => {
    assert.equal(
      JSON.stringify(sortKeys({ b: 1, a: { d: 1, c: [{ f: 1, e: 2 }] } })),
      '{"a":{"c":[{"e":2,"f":1}],"d":1},"b":1}',
    );
  });

  it("redactSecrets hides IM, OpenStack, influx and kubeconfig secrets but keeps labels and auth types", () => {
    const obj = {
      metadata: { name: "x", labels: { token: "not-a-secret" } },
      spec: {
        im: { url: "u", username: "user", password: "p1", token: "t1" },
        openstack: { auth: { type: "password", password: { user: { username: "u", password: "p2" } } } },
        influx: { token: "t2" },
        kubeconfig: {
          users: [
            {
              name: "u",
              user: {
                token: "t3",
                "client-key-data": "k",
                "client-certificate-data": "c",
                exec: { command: "x" },
              },
            },
          ],
        },
        nothing: { password: null },
      },
    };
    const r = redactSecrets(obj);
    const text = JSON.stringify(r);
    for (const secret of ["p1", "t1", "p2", "t2", "t3", '"k"', '"c"', "command"])
      assert.ok(!text.includes(secret), secret);
    assert.equal(r.metadata.labels.token, "not-a-secret");
    assert.equal(r.spec.openstack.auth.type, "password");
    assert.equal(r.spec.im.password, REDACTED);
    assert.equal(r.spec.nothing.password, null);
    assert.equal(obj.spec.im.password, "p1", "the input is not modified");
  });

  it("tables fit the width, wrapping cells", () => {
    const t = renderTable(
      [
        ["h1", "h2"],
        ["a".repeat(100), "b"],
      ],
      true,
      40,
    );
    for (const line of t.trimEnd().split("\n")) assert.ok(line.length <= 40, line);
    assert.match(t, /^\+=+\+=+\+$/m);
  });

  it("without a terminal, tables are 80 columns wide; $COLUMNS changes that", async () => {
    const reg = [
      "infra",
      "gip",
      "register",
      "wide-" + "x".repeat(60),
      "--type",
      "im",
      "--url",
      "http://" + "u".repeat(80),
      "--token",
      "t",
    ];
    let r = await sb.rok(reg);
    assert.equal(r.code, 0, r.stderr);
    r = await sb.rok(["infra", "gip", "list", "-o", "wide"]);
    assert.equal(r.code, 0, r.stderr);
    for (const line of r.stdout.trimEnd().split("\n")) assert.ok(line.length <= 80, line);
    r = await sb.rok(["infra", "gip", "list"], { env: { COLUMNS: "300" } });
    assert.ok(r.stdout.split("\n").some((l) => l.length > 80));
    assert.ok(r.stdout.includes("http://" + "u".repeat(80)));
  });

  it("an empty list prints only the header", () => {
    const t = render(GlobalInfrastructureProvider, [], "table");
    assert.equal(t.trimEnd().split("\n").length, 3);
    assert.match(t, /\| name \| namespace \| labels \| created \| modified \| deleted \| type \| url \|/);
  });
});

describe("rok: installation", () => {
  it("npm install -g puts rok and krakectl on the PATH", async () => {
    const prefix = await mkdtemp(join(tmpdir(), "rok-install-"));
    try {
      const repo = fileURLToPath(new URL("../../../", import.meta.url));
      // --ignore-scripts: the checkout is already built, and a rebuild would race the other tests for dist/.
      execFileSync("npm", ["install", "-g", "--prefix", prefix, "--ignore-scripts", "--no-audit", "--no-fund", repo], {
        stdio: "pipe",
      });
      const rokVersion = execFileSync(join(prefix, "bin", "rok"), ["--version"]).toString().trim();
      assert.match(rokVersion, /^\d+\.\d+\.\d+$/);
      const usage = execFileSync(join(prefix, "bin", "krakectl"), ["kube", "--help"]).toString();
      assert.match(usage, /^Usage: krakectl kubernetes\|kube /);
    } finally {
      await rm(prefix, { recursive: true, force: true });
    }
  });
});

describe("rok in a pipeline", () => {
  it("stops quietly with exit 0 when the reader of its output goes away (rok … | head)", async () => {
    const { spawn } = await import("node:child_process");
    const { ROK_BIN } = await import("../support/rok.js");
    // A reader that has already gone: the pipe is closed before rok writes its (large) table.
    const child = spawn(process.execPath, [ROK_BIN, "infra", "gip", "list"], {
      env: { ...process.env, KRAKE_URL: api.url, XDG_CONFIG_HOME: sb.dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(stderr, "", "no stack trace");
    assert.equal(code, 0);
  });
});
