import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chooseCloud,
  chooseCluster,
  cloudScore,
  clusterScore,
  explainNoFit,
  mismatch,
  parseConstraints,
  pickBest,
  type Candidate,
} from "./select.js";
import { effectiveCluster } from "./inherit.js";

const cluster = (
  id: string,
  labels: Record<string, string>,
  metrics: Candidate["metrics"] = null,
  crds: string[] = [],
): Candidate => ({
  id,
  kind: "cluster",
  labels,
  customResources: crds,
  metrics,
});

describe("constraint matching (controllers.md §2.1, §11 test_scheduling.py)", () => {
  const de = cluster("de", { location: "DE" });
  const sk = cluster("sk", { location: "SK" });
  const bare = cluster("bare", {});
  for (const text of [
    "location is DE",
    "location=DE",
    "location = DE",
    "location == DE",
    "location in (DE,)",
  ]) {
    it(`'${text}' picks the DE cluster only`, () => {
      const c = parseConstraints({ labels: [text] });
      assert.equal(mismatch(de, c), null);
      assert.notEqual(mismatch(sk, c), null);
    });
  }
  for (const text of ["location is not DE", "location != DE", "location not in (DE,)"]) {
    it(`'${text}' picks the other cluster, and never one without the label`, () => {
      const c = parseConstraints({ labels: [text] });
      assert.notEqual(mismatch(de, c), null);
      assert.equal(mismatch(sk, c), null);
      assert.match(mismatch(bare, c)!, /location: missing/);
    });
  }

  it("custom resources must all be offered; metric constraints compare the normalised value (X2)", () => {
    const c = cluster("c", {}, [{ name: "load", weight: 10, value: 0.3 }], ["a.example.com"]);
    assert.equal(mismatch(c, parseConstraints({ customResources: ["a.example.com"] })), null);
    assert.match(
      mismatch(c, parseConstraints({ customResources: ["b.example.com"] }))!,
      /custom resource 'b.example.com'/,
    );
    // weight × value would be 3 and fail "< 0.5"; the normalised value 0.3 passes.
    assert.equal(mismatch(c, parseConstraints({ metrics: ["load < 0.5"] })), null);
    assert.match(mismatch(c, parseConstraints({ metrics: ["load > 0.5"] }))!, /load = 0.3/);
  });

  it("a candidate without metrics does not match a metric constraint, and nothing crashes (X3)", () => {
    assert.match(
      mismatch(cluster("m", {}), parseConstraints({ metrics: ["load < 1"] }))!,
      /metric load missing/,
    );
  });
});

describe("ranking (controllers.md §2.5, user story 3)", () => {
  const m = (cost: number, green: number, wc: number, wg: number) => [
    { name: "electricity_cost_1", weight: wc, value: cost },
    { name: "green_energy_ratio_1", weight: wg, value: green },
  ];

  it("scores 9.1/11 vs 1.9/11, then 2.0/11.1 vs 9.1/11 after the values flip", () => {
    assert.equal(clusterScore(m(0.9, 0.1, 10, 1), false, 0.1).toFixed(3), (9.1 / 11).toFixed(3));
    assert.equal(clusterScore(m(0.9, 0.1, 1, 10), false, 0.1).toFixed(3), (1.9 / 11).toFixed(3));
    // cluster-1 is current: (1.9 + 0.1) / 11.1; cluster-2: 9.1 / 11.
    assert.equal(clusterScore(m(0.1, 0.9, 10, 1), true, 0.1).toFixed(3), (2.0 / 11.1).toFixed(3));
    assert.equal(clusterScore(m(0.1, 0.9, 1, 10), false, 0.1).toFixed(3), (9.1 / 11).toFixed(3));
  });

  it("stickiness: a gain smaller than it does not move the app", () => {
    const current = clusterScore([{ name: "x", weight: 1, value: 0.5 }], true, 0.1); // 0.6/1.1 = 0.545
    assert.ok(clusterScore([{ name: "x", weight: 1, value: 0.54 }], false, 0.1) < current);
    assert.ok(clusterScore([{ name: "x", weight: 1, value: 0.55 }], false, 0.1) > current);
  });

  it("without metrics only stickiness counts; zero weights score 0 (X11); clouds use the plain mean", () => {
    assert.equal(clusterScore(null, true, 0.1), 0.1);
    assert.equal(clusterScore(null, false, 0.1), 0);
    assert.equal(clusterScore([{ name: "x", weight: 0, value: 1 }], false, 0), 0);
    assert.equal(cloudScore(null), 0);
    assert.equal(cloudScore(m(0.9, 0.1, 1, 10)).toFixed(4), (1.9 / 11).toFixed(4));
  });

  it("pickBest: clusters win ties against clouds; ties between clusters are random", () => {
    type K = { kind: "cluster" | "cloud"; id: string };
    const a: K = { kind: "cluster", id: "a" };
    const b: K = { kind: "cluster", id: "b" };
    const cloud: K = { kind: "cloud", id: "cloud" };
    const scored = [
      { candidate: cloud, score: 0.5 },
      { candidate: a, score: 0.5 },
      { candidate: b, score: 0.5 },
    ];
    assert.equal(pickBest(scored, () => 0)!.candidate.id, "a");
    assert.equal(pickBest(scored, () => 0.99)!.candidate.id, "b");
    assert.equal(
      pickBest([], () => 0),
      null,
    );
  });
});

describe("chooseCluster and chooseCloud", () => {
  const metrics = (v: number) => [{ name: "x", weight: 1, value: v }];

  it("clusters with metrics beat clusters without; label constraints beat ranking", () => {
    const d = chooseCluster({
      candidates: [
        cluster("plain", { location: "DE" }),
        cluster("metric", { location: "DE" }, metrics(0.1)),
        cluster("best", { location: "SK" }, metrics(1)),
      ],
      constraints: parseConstraints({ labels: ["location=DE"] }),
      currentId: null,
      recentlyScheduled: false,
      stickiness: 0.1,
    });
    assert.equal(d.chosen!.candidate.id, "metric");
    assert.deepEqual(d.excluded, [
      { id: "best", reason: "label constraint 'location=DE' not met (location: 'SK')" },
    ]);
  });

  it("the recently-scheduled guard keeps a still-matching current cluster without ranking", () => {
    const d = chooseCluster({
      candidates: [cluster("cur", {}, metrics(0)), cluster("better", {}, metrics(1))],
      constraints: parseConstraints({}),
      currentId: "cur",
      recentlyScheduled: true,
      stickiness: 0.1,
    });
    assert.equal(d.chosen!.candidate.id, "cur");
    assert.equal(d.kept, true);
  });

  it("room filters after the constraints, with its reason; the best-scored cluster without room loses", () => {
    const input = {
      candidates: [
        cluster("full", { location: "DE" }, metrics(1)),
        cluster("roomy", { location: "DE" }, metrics(0.2)),
        cluster("elsewhere", { location: "SK" }, metrics(1)),
      ],
      constraints: parseConstraints({ labels: ["location!=SK"] }),
      currentId: null,
      recentlyScheduled: false,
      stickiness: 0.1,
      room: (c: Candidate) => (c.id === "roomy" ? null : "not enough room"),
    };
    const d = chooseCluster(input);
    assert.equal(d.chosen!.candidate.id, "roomy");
    assert.deepEqual(d.excluded, [
      { id: "full", reason: "not enough room" },
      { id: "elsewhere", reason: "label constraint 'location!=SK' not met (location: 'SK')" },
    ]);
    assert.equal(chooseCluster({ ...input, explain: false }).chosen!.candidate.id, "roomy");
    assert.equal(chooseCluster({ ...input, room: () => "no" }).chosen, null);
  });

  it("nothing fits: no choice, and each exclusion explained", () => {
    const d = chooseCluster({
      candidates: [cluster("a", { location: "SK" })],
      constraints: parseConstraints({ labels: ["location=DE"] }),
      currentId: null,
      recentlyScheduled: false,
      stickiness: 0.1,
    });
    assert.equal(d.chosen, null);
    assert.equal(
      explainNoFit(d.excluded, "cluster"),
      "no cluster fits: a: label constraint 'location=DE' not met (location: 'SK')",
    );
    assert.equal(explainNoFit([], "cluster"), "no cluster to choose from");
  });

  it("clouds: matching ones ranked by the cloud formula", () => {
    const cloud = (id: string, labels: Record<string, string>, v: number | null): Candidate => ({
      id,
      kind: "cloud",
      labels,
      metrics: v === null ? null : metrics(v),
    });
    const d = chooseCloud(
      [cloud("c1", { location: "DE" }, 0.2), cloud("c2", { location: "DE" }, 0.8), cloud("c3", {}, 1)],
      parseConstraints({ labels: ["location=DE"] }),
    );
    assert.equal(d.chosen!.candidate.id, "c2");
    assert.equal(d.excluded.length, 1);
  });
});

describe("effectiveCluster (inheritance, X5 fixed)", () => {
  const cloud = {
    metadata: { labels: { location: "DE", tier: "gold" } },
    spec: {
      type: "openstack",
      openstack: {
        metrics: [
          { name: "electricity_cost_1", weight: 1, namespaced: false },
          { name: "green", weight: 2, namespaced: false },
        ],
      },
    },
  } as any;
  const clusterObj = (extra: any = {}) =>
    ({
      metadata: { labels: { location: "SK", own: "x" }, inherit_labels: false, ...extra.metadata },
      spec: {
        metrics: [{ name: "green", weight: 9, namespaced: false }],
        inherit_metrics: false,
        constraints: { cloud: { labels: [], metrics: [] } },
        ...extra.spec,
      },
    }) as any;

  it("inherit_labels: the cloud wins; inherit_metrics adds only missing names", () => {
    const e = effectiveCluster(
      clusterObj({ metadata: { inherit_labels: true }, spec: { inherit_metrics: true } }),
      cloud,
    );
    assert.deepEqual(e.labels, { location: "DE", own: "x", tier: "gold" });
    assert.deepEqual(
      e.metrics.map((m) => [m.name, m.weight]),
      [
        ["green", 9],
        ["electricity_cost_1", 1],
      ],
    );
  });

  it("constraints inherit what they name: label keys, metric names", () => {
    const e = effectiveCluster(
      clusterObj({
        spec: {
          constraints: { cloud: { labels: ["tier in (gold)"], metrics: ["electricity_cost_1 < 0.5"] } },
        },
      }),
      cloud,
    );
    assert.deepEqual(e.labels, { location: "SK", own: "x", tier: "gold" });
    assert.deepEqual(
      e.metrics.map((m) => m.name),
      ["green", "electricity_cost_1"],
    );
  });

  it("no cloud: the cluster's own sets", () => {
    assert.deepEqual(effectiveCluster(clusterObj(), undefined).labels, { location: "SK", own: "x" });
  });
});
