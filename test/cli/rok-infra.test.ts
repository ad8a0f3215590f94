import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { ROK_BIN, useRokApi } from "../support/rok.js";

// Wide tables, so that row assertions see whole cells (wrapping at 80 columns is tested separately).
const t = useRokApi();
const rok = (args: string[], input?: string) => t.rok(args, { input });
const tables = (args: string[]) => t.tables(args);
const json = (s: string) => JSON.parse(s);

// Krake's functional test test_infrastructure_resources.py (cli.md §4.1), for each provider alias.
for (const [resource, namespaced] of [
  ["gip", false],
  ["globalinfrastructureprovider", false],
  ["provider", true],
  ["ip", true],
] as const) {
  describe(`infra ${resource} (cli.md §4.1)`, () => {
    const name = `prov-${resource}`;
    const ns = namespaced ? ["-n", "team-a"] : [];
    const reg = [
      "--type",
      "im",
      "--url",
      "http://im.example",
      "--username",
      "user",
      "--password",
      "pass-SECRET-1",
    ];

    it("get, update and delete of a missing name exit 1 with 404", async () => {
      for (const args of [
        ["get", name],
        ["update", name, "--url", "http://x", "--password", "p"],
        ["delete", name],
      ]) {
        const r = await rok(["infra", resource, ...args, ...ns, "-o", "json"]);
        assert.equal(r.code, 1, args.join(" "));
        assert.match(r.stderr, /^Error: 404 NOT_FOUND_ERROR: /);
        assert.equal(r.stdout, "");
      }
    });

    it("register, get, update, update again (400), register again (409), delete", async () => {
      let r = await rok(["infra", resource, "register", name, ...reg, ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const created = json(r.stdout);
      assert.equal(created.api, "infrastructure");
      assert.equal(created.kind, namespaced ? "InfrastructureProvider" : "GlobalInfrastructureProvider");
      assert.equal(created.metadata.name, name);
      assert.equal(created.metadata.namespace, namespaced ? "team-a" : null);
      assert.deepEqual(created.spec, {
        type: "im",
        im: { url: "http://im.example", username: "user", password: "pass-SECRET-1", token: null },
      });

      r = await rok(["infra", resource, "get", name, ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(json(r.stdout).spec, created.spec);

      const update = [
        "infra",
        resource,
        "update",
        name,
        "--url",
        "http://updated.example",
        "--password",
        "pass-SECRET-1",
        ...ns,
        "-o",
        "json",
      ];
      r = await rok(update);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(json(r.stdout).spec.im.url, "http://updated.example");
      r = await rok(update);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 400 UPDATE_ERROR: The body contained no update\./);

      r = await rok(["infra", resource, "register", name, ...reg, ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 409 RESOURCE_ALREADY_EXISTS: /);

      r = await rok(["infra", resource, "delete", name, ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(json(r.stdout).metadata.deleted, "delete prints the object with `deleted` set");

      // The cascade_deletion finalizer keeps it, marked deleted, until a garbage collector runs (§4.1 step 8).
      r = await rok(["infra", resource, "list", ...ns, "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const listed = json(r.stdout).filter((o: any) => o.metadata.name === name);
      assert.equal(listed.length, 1);
      assert.ok(listed[0].metadata.deleted);
    });
  });
}

describe("infra providers: output and secrets", () => {
  before(async () => {
    for (const [name, ns, auth] of [
      ["im-provider", "system:admin", ["--username", "test", "--password", "pw-SECRET-2"]],
      ["tok-provider", "other", ["--token", "tok-SECRET-3"]],
    ] as const) {
      const r = await rok([
        "infra",
        "provider",
        "register",
        "--type",
        "im",
        "--url",
        "http://localhost:8800",
        ...auth,
        "-n",
        ns,
        name,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes("SECRET"), "register's table hides the secret");
      assert.match(r.stdout, new RegExp(`\\| name +\\| ${name} +\\|`));
    }
  });

  it("list defaults to the config's user namespace; -a lists every namespace (cli.md §4 story 7)", async () => {
    let r = await rok(["infra", "provider", "list"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    // Story 7: one row with the name, namespace system:admin, labels None, type im and the URL.
    assert.match(
      lines[1],
      /\| name +\| namespace +\| labels +\| created +\| modified +\| deleted +\| type +\| url +\|/,
    );
    assert.match(
      lines[3],
      /\| im-provider +\| system:admin +\| None +\|[^|]+\|[^|]+\| None +\| im +\| http:\/\/localhost:8800 +\|/,
    );
    assert.ok(!r.stdout.includes("tok-provider"));
    r = await rok(["infra", "ip", "list", "-a", "-o", "name"]);
    const names = r.stdout.trim().split("\n");
    assert.ok(names.includes("im-provider") && names.includes("tok-provider"), names.join(" "));
  });

  it("tables never contain the password or token; json and yaml print them as returned", async () => {
    for (const [name, ns, secret] of [
      ["im-provider", "system:admin", "pw-SECRET-2"],
      ["tok-provider", "other", "tok-SECRET-3"],
    ]) {
      for (const out of ["table", "wide"]) {
        const r = await rok(["infra", "provider", "get", name, "-n", ns, "-o", out]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!r.stdout.includes(secret), `${out} hides ${secret}`);
        assert.ok(!(await tables(["infra", "provider", "get", name, "-n", ns, "-o", out])).includes(secret));
        assert.ok(!(await tables(["infra", "provider", "list", "-a", "-o", out])).includes("SECRET"));
      }
      const j = await rok(["infra", "provider", "get", name, "-n", ns, "-o", "json"]);
      assert.ok(j.stdout.includes(secret));
      const y = await rok(["infra", "provider", "get", name, "-n", ns, "-o", "yaml"]);
      assert.ok(y.stdout.includes(secret));
      assert.match(y.stdout, /^ {2}type: im$/m, "yaml is block style");
    }
  });

  it("json is indented by 2 with sorted keys and a trailing newline", async () => {
    const r = await rok(["infra", "provider", "get", "im-provider", "-o", "json"]);
    const obj = json(r.stdout);
    assert.equal(r.stdout, JSON.stringify(obj, null, 2) + "\n");
    assert.deepEqual(Object.keys(obj), ["api", "kind", "metadata", "spec"]);
    assert.deepEqual(Object.keys(obj.metadata), [...Object.keys(obj.metadata)].sort());
  });

  it("KRAKE_NAMESPACE overrides the default namespace", async () => {
    const r = await t.sb.rok(["infra", "provider", "get", "tok-provider", "-o", "name"], {
      env: { KRAKE_NAMESPACE: "other" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "tok-provider\n");
  });
});

describe("infra: passwords", () => {
  const base = ["infra", "gip", "register", "--type", "im", "--url", "http://im.example", "--username", "u"];

  it("without --password and without a terminal: a clear error, exit 1, nothing created", async () => {
    const r = await rok([...base, "no-pw"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: a password is required for GlobalInfrastructureProvider no-pw: pass --password or --password-stdin/,
    );
    const g = await rok(["infra", "gip", "get", "no-pw"]);
    assert.equal(g.code, 1);
  });

  it("--password-stdin reads the password (without its trailing newline)", async () => {
    const r = await rok([...base, "stdin-pw", "--password-stdin", "-o", "json"], "from-stdin-SECRET\n");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).spec.im.password, "from-stdin-SECRET");
    const u = await rok(
      ["infra", "gip", "update", "stdin-pw", "--password-stdin", "-o", "json"],
      "changed\n",
    );
    assert.equal(u.code, 0, u.stderr);
    assert.equal(json(u.stdout).spec.im.password, "changed");
  });

  it("--password and --password-stdin together are refused", async () => {
    const r = await rok([...base, "both", "--password", "x", "--password-stdin"], "y");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /either --password or --password-stdin/);
  });

  it("a token-only provider needs no password; no credentials at all is the server's 422", async () => {
    let r = await rok([
      "infra",
      "gip",
      "register",
      "--type",
      "im",
      "--url",
      "http://im.example",
      "--token",
      "t",
      "tok",
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await rok(["infra", "gip", "register", "--type", "im", "--url", "http://im.example", "none"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 422 Unprocessable Entity: .*At least one authentication/);
    assert.match(r.stderr, /\n {2}spec\.im: At least one authentication should be defined/);
  });

  it("cloud update without a password and without a terminal fails (the password is always reset)", async () => {
    const reg = [
      "--type",
      "openstack",
      "--url",
      "http://ks",
      "--project",
      "p",
      "--username",
      "u",
      "--global-infra-provider",
      "x",
    ];
    let r = await rok(["infra", "gc", "register", "pwcloud", ...reg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a password is required for GlobalCloud pwcloud/);
    r = await rok(["infra", "gc", "register", "pwcloud", ...reg, "--password", "p"]);
    assert.equal(r.code, 0, r.stderr);
    r = await rok(["infra", "gc", "update", "pwcloud", "--url", "http://other"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a password is required/);
  });
});

for (const [resource, namespaced] of [
  ["gcloud", false],
  ["gc", false],
  ["globalcloud", false],
  ["cloud", true],
] as const) {
  describe(`infra ${resource} (cli.md §4.1)`, () => {
    const name = `cloud-${resource}`;
    const ns = namespaced ? ["-n", "team-b"] : [];
    const reg = [
      "--type",
      "openstack",
      "--url",
      "http://keystone.example",
      "--project",
      "project",
      "--username",
      "user",
      "--password",
      "os-SECRET-4",
      "--global-infra-provider",
      "im-provider",
    ];

    it("missing: 404 on get, update and delete", async () => {
      for (const args of [
        ["get", name],
        ["update", name, "--password", "p"],
        ["delete", name],
      ]) {
        const r = await rok(["infra", resource, ...args, ...ns]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^Error: 404 NOT_FOUND_ERROR/);
      }
    });

    it("register, get, update, 400, 409, delete", async () => {
      let r = await rok([
        "infra",
        resource,
        "register",
        name,
        ...reg,
        ...ns,
        "-l",
        "location=DE",
        "--global-metric",
        "electricity_cost_1",
        "10",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const obj = json(r.stdout);
      assert.equal(obj.kind, namespaced ? "Cloud" : "GlobalCloud");
      assert.equal(obj.status.state, "ONLINE");
      assert.deepEqual(obj.metadata.labels, { location: "DE" });
      const os = obj.spec.openstack;
      assert.equal(obj.spec.type, "openstack");
      assert.equal(os.url, "http://keystone.example");
      assert.deepEqual(os.auth, {
        type: "password",
        password: {
          version: "3",
          user: { username: "user", password: "os-SECRET-4", domain_name: "Default", comment: null },
          project: { name: "project", domain_id: "default", comment: null },
        },
      });
      assert.deepEqual(os.infrastructure_provider, { name: "im-provider", namespaced: false });
      assert.deepEqual(os.metrics, [{ name: "electricity_cost_1", weight: 10, namespaced: false }]);

      for (const out of ["table", "wide"]) {
        r = await rok(["infra", resource, "get", name, ...ns, "-o", out]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!r.stdout.includes("os-SECRET-4"), "table hides the OpenStack password");
        assert.match(r.stdout, /\| state +\| ONLINE +\|/);
        assert.match(r.stdout, /\| labels +\| location: DE +\|/);
        assert.ok(
          !(await tables(["infra", resource, "get", name, ...ns, "-o", out])).includes("os-SECRET-4"),
        );
        assert.ok(!(await tables(["infra", resource, "list", ...ns, "-o", out])).includes("os-SECRET-4"));
        r = await rok(["infra", resource, "list", ...ns, "-o", out]);
        assert.match(r.stdout, new RegExp(`\\| ${name} +\\|`));
      }

      const update = [
        "infra",
        resource,
        "update",
        name,
        "--url",
        "http://updated.example",
        "--password",
        "os-SECRET-4",
        ...ns,
        "-o",
        "json",
      ];
      r = await rok(update);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(json(r.stdout).spec.openstack.url, "http://updated.example");
      r = await rok(update);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 400 UPDATE_ERROR/);

      r = await rok([
        "infra",
        resource,
        "update",
        name,
        "--password",
        "os-SECRET-4",
        "-l",
        "location=SK",
        "--global-metric",
        "green",
        "2",
        "--domain-id",
        "d2",
        ...ns,
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const upd = json(r.stdout);
      assert.deepEqual(upd.metadata.labels, { location: "SK" }, "labels are replaced");
      assert.deepEqual(
        upd.spec.openstack.metrics,
        [{ name: "green", weight: 2, namespaced: false }],
        "metrics are replaced",
      );
      assert.equal(upd.spec.openstack.auth.password.project.domain_id, "d2");

      r = await rok(["infra", resource, "register", name, ...reg, ...ns]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: 409 /);

      r = await rok(["infra", resource, "delete", name, ...ns, "-o", "yaml"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ {2}deleted: \S+/m);
    });
  });
}

describe("infra cloud: provider flags", () => {
  const reg = [
    "--type",
    "openstack",
    "--url",
    "http://ks",
    "--project",
    "p",
    "--username",
    "u",
    "--password",
    "p",
  ];

  it("--infra-provider makes a namespaced reference; --metric namespaced metrics", async () => {
    const r = await rok([
      "infra",
      "cloud",
      "register",
      "nc",
      ...reg,
      "--infra-provider",
      "im-provider",
      "--metric",
      "m",
      "1.5",
      "--global-metric",
      "g",
      "2",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const os = json(r.stdout).spec.openstack;
    assert.deepEqual(os.infrastructure_provider, { name: "im-provider", namespaced: true });
    assert.deepEqual(os.metrics, [
      { name: "m", weight: 1.5, namespaced: true },
      { name: "g", weight: 2, namespaced: false },
    ]);
  });

  it("exactly one provider flag", async () => {
    let r = await rok(["infra", "cloud", "register", "nc2", ...reg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: one of --infra-provider or --global-infra-provider is required/);
    r = await rok([
      "infra",
      "cloud",
      "register",
      "nc2",
      ...reg,
      "--infra-provider",
      "a",
      "--global-infra-provider",
      "b",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not both/);
  });

  it("gcloud requires --global-infra-provider and refuses --infra-provider (usage errors, exit 2)", async () => {
    let r = await rok(["infra", "gcloud", "register", "gx", ...reg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /required option '--global-infra-provider <name>'/);
    r = await rok([
      "infra",
      "gcloud",
      "register",
      "gx",
      ...reg,
      "--global-infra-provider",
      "a",
      "--infra-provider",
      "b",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--infra-provider'/);
  });

  it("a metric weight must be a number; a pair flag needs two values", async () => {
    let r = await rok([
      "infra",
      "cloud",
      "register",
      "nc3",
      ...reg,
      "--infra-provider",
      "a",
      "--metric",
      "m",
      "heavy",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /metric weight: expected a number, got 'heavy'/);
    r = await rok(["infra", "cloud", "register", "nc3", ...reg, "--infra-provider", "a", "--metric", "m"]);
    assert.equal(r.code, 2);
  });
});

/** Runs rok on a pseudo-terminal through util-linux `script`, typing `typed` once the prompt appears. */
function rokOnTty(args: string[], typed: string): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, ROK_BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: t.sb.dir,
      env: {
        ...process.env,
        XDG_CONFIG_HOME: t.sb.dir,
        KRAKE_URL: t.api.url,
        KRAKE_NAMESPACE: "",
        COLUMNS: "1000",
      },
    });
    let output = "";
    let sent = false;
    child.stdout.on("data", (d) => {
      output += d;
      if (!sent && output.includes("Password for")) {
        sent = true;
        child.stdin.write(typed + "\r");
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe(
  "infra: password prompt on a terminal",
  { skip: !existsSync("/usr/bin/script") && "util-linux script is not installed" },
  () => {
    it("prompts without echo and sends what was typed", async () => {
      const r = await rokOnTty(
        ["infra", "gip", "register", "--type", "im", "--url", "http://x", "--username", "u", "tty-prov"],
        "tty-SECRET-5",
      );
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /Password for GlobalInfrastructureProvider tty-prov: /);
      assert.ok(
        !r.output.includes("tty-SECRET-5"),
        "the password is neither echoed nor printed in the table",
      );
      const g = await rok(["infra", "gip", "get", "tty-prov", "-o", "json"]);
      assert.equal(json(g.stdout).spec.im.password, "tty-SECRET-5");
    });
  },
);
