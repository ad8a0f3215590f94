import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runKrake } from "../support/process.js";

describe("krake controller: bad input is a usage error naming the flag (exit 2), nothing starts", () => {
  const cases: [string[], RegExp][] = [
    [["nope"], /unknown controller 'nope' \(choose from scheduler, gc, infrastructure, cluster, application, autoscaler, all\)/],
    [["scheduler", "--metrics-address", "abc"], /--metrics-address must be host:port/],
    [["scheduler", "--metrics-address", "127.0.0.1:70000"], /--metrics-address must be host:port/],
    [["scheduler", "--api", "localhost:8080"], /--api must be an http\(s\) URL/],
    [["scheduler", "--workers", "2.5"], /--workers must be a whole number/],
    [["scheduler", "--lease-duration", "-1"], /--lease-duration must be a positive number/],
    [["scheduler", "--stickiness", "-0.5"], /--stickiness must be a number >= 0/],
    [["scheduler", "--log-level", "loud"], /--log-level/],
    [["scheduler", "--tls-cert", "/nonexistent.pem"], /--tls-cert and --tls-key must be given together/],
    [["scheduler", "--tls-ca", "/nonexistent.pem"], /cannot read \/nonexistent\.pem: ENOENT/],
    [["application", "--hook-ca-cert", "/nonexistent.pem"], /--hook-ca-cert and --hook-ca-key must be given together/],
    [["application", "--hook-ca-cert", "/a.pem", "--hook-ca-key", "/b.pem"], /--hook-ca-cert needs --hook-ca-bundle \(or --tls-ca\)/],
    [["application", "--hook-ca-cert", "/a.pem", "--hook-ca-key", "/b.pem", "--hook-ca-bundle", "/c.pem"], /cannot read \/a\.pem: ENOENT/],
  ];
  for (const [args, message] of cases) {
    it(args.join(" "), async () => {
      const r = await runKrake([
        "controller",
        ...args,
        ...(args.includes("--api") ? [] : ["--api", "http://127.0.0.1:1"]),
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  }
});
