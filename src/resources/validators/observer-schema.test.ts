import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkObserverSchema } from "./observer-schema.js";

const manifest = [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "prod" },
    spec: { type: "NodePort", ports: [{ port: 80, protocol: "TCP" }] },
  },
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 2 } },
];

const control = (min: unknown, max: unknown) => ({
  observer_schema_list_min_length: min,
  observer_schema_list_max_length: max,
});

function serviceSchema(): Record<string, any> {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: null, labels: { app: null } },
    spec: { type: null, ports: [{ port: null, protocol: null }, control(1, 1)] },
  };
}

describe("checkObserverSchema", () => {
  it("accepts a well-formed schema matching the manifest", () => {
    assert.deepEqual(checkObserverSchema([serviceSchema()], manifest), []);
    assert.deepEqual(checkObserverSchema([], manifest), []);
  });

  it("accepts unbounded lists (max 0) and nested lists", () => {
    const s = serviceSchema();
    s.spec.ports = [null, null, null, control(0, 0)];
    s.spec.matrix = [[null, control(0, 5)], control(1, 0)];
    assert.deepEqual(checkObserverSchema([s], manifest), []);
  });

  it("requires the identifying fields (Krake's wording)", () => {
    const cases: [(s: any) => void, (string | number)[], string][] = [
      [(s) => delete s.apiVersion, [0, "apiVersion"], "apiVersion is not defined"],
      [(s) => (s.kind = null), [0, "kind"], "kind is not defined"],
      [(s) => delete s.metadata, [0, "metadata"], "metadata dictionary is not defined"],
      [(s) => (s.metadata = ["web"]), [0, "metadata"], "metadata must be a dictionary"],
      [
        (s) => delete s.metadata.name,
        [0, "metadata", "name"],
        "name is not defined in the metadata dictionary",
      ],
    ];
    for (const [breakIt, path, message] of cases) {
      const s = serviceSchema();
      breakIt(s);
      assert.deepEqual(checkObserverSchema([s], manifest), [{ path, message }]);
    }
  });

  it("requires null leaves, naming the key", () => {
    const s = serviceSchema();
    s.spec.type = "NodePort";
    s.metadata.namespace = "prod";
    s.spec.ports[0].port = 0;
    assert.deepEqual(checkObserverSchema([s], manifest), [
      { path: [0, "metadata", "namespace"], message: "Value of 'namespace' is not null" },
      { path: [0, "spec", "type"], message: "Value of 'type' is not null" },
      { path: [0, "spec", "ports", 0, "port"], message: "Value of 'port' is not null" },
    ]);
  });

  it("requires null list elements", () => {
    const s = serviceSchema();
    s.spec.ports = ["x", control(0, 0)];
    assert.deepEqual(checkObserverSchema([s], manifest), [
      { path: [0, "spec", "ports", 0], message: "Element of a list is not null" },
    ]);
  });

  const listCases: [unknown[], (string | number)[], string][] = [
    [[], [0, "spec", "ports"], "Special list control dictionary not found"],
    [[null], [0, "spec", "ports"], "Special list control dictionary not found"],
    [
      [{ observer_schema_list_min_length: 1 }],
      [0, "spec", "ports", 0],
      "Special list control dictionary malformed",
    ],
    [
      [control("1", 1)],
      [0, "spec", "ports", 0, "observer_schema_list_min_length"],
      "observer_schema_list_min_length should be an integer",
    ],
    [
      [control(1, 1.5)],
      [0, "spec", "ports", 0, "observer_schema_list_max_length"],
      "observer_schema_list_max_length should be an integer",
    ],
    [
      [control(true, 1)],
      [0, "spec", "ports", 0, "observer_schema_list_min_length"],
      "observer_schema_list_min_length should be an integer",
    ],
    [
      [control(-1, 1)],
      [0, "spec", "ports", 0, "observer_schema_list_min_length"],
      "Invalid value for observer_schema_list_min_length",
    ],
    [
      [control(0, -2)],
      [0, "spec", "ports", 0, "observer_schema_list_max_length"],
      "Invalid value for observer_schema_list_max_length",
    ],
    [
      [control(3, 2)],
      [0, "spec", "ports", 0, "observer_schema_list_max_length"],
      "observer_schema_list_max_length is inferior to observer_schema_list_min_length",
    ],
    [
      [null, null, null, control(1, 2)],
      [0, "spec", "ports", 3, "observer_schema_list_max_length"],
      "observer_schema_list_max_length is inferior to the number of observed elements",
    ],
  ];
  for (const [list, path, message] of listCases) {
    it(`list control: ${message} (${JSON.stringify(list).slice(0, 60)})`, () => {
      const s = serviceSchema();
      s.spec.ports = list;
      assert.deepEqual(checkObserverSchema([s], manifest), [{ path, message }]);
    });
  }

  it("requires every entry to match a manifest resource by apiVersion, kind and name", () => {
    for (const change of [{ kind: "Pod" }, { apiVersion: "v2" }, { metadata: { name: "api" } }]) {
      const s = { ...serviceSchema(), ...change };
      assert.deepEqual(checkObserverSchema([s], manifest), [
        { path: [0], message: "Observed resource must be in manifest" },
      ]);
    }
    assert.deepEqual(
      checkObserverSchema(
        [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: null } }],
        manifest,
      ),
      [],
    );
  });

  it("checks the structure but not the match while the manifest is empty", () => {
    assert.deepEqual(checkObserverSchema([serviceSchema()], []), []);
    const s = serviceSchema();
    s.spec.type = 1;
    assert.equal(checkObserverSchema([s], []).length, 1);
  });

  it("rejects entries that are not objects", () => {
    assert.deepEqual(checkObserverSchema([null, "x"] as any, manifest), [
      { path: [0], message: "The observed resource at index 0 must be an object" },
      { path: [1], message: "The observed resource at index 1 must be an object" },
    ]);
  });

  it("accepts 100 levels and reports deeper nesting once, without a stack overflow", () => {
    const make = (levels: number) => {
      const s = serviceSchema();
      let node = s.spec;
      for (let i = 2; i < levels; i++) node = node.n = {};
      node.leaf = null;
      return s;
    };
    assert.deepEqual(checkObserverSchema([make(100)], manifest), []);
    const issues = checkObserverSchema([make(100_000)], manifest);
    assert.equal(issues.length, 1);
    assert.match(issues[0].message, /^The observer schema is nested too deeply \(more than 100 levels\)\.$/);
    assert.equal(issues[0].path.length, 101);
  });

  it("treats deep lists the same way", () => {
    const s = serviceSchema();
    let list: unknown[] = [null, control(0, 0)];
    for (let i = 0; i < 1000; i++) list = [list, control(0, 0)];
    s.spec.ports = list;
    assert.match(checkObserverSchema([s], manifest)[0].message, /nested too deeply/);
  });

  it("rejects a non-list schema", () => {
    assert.deepEqual(checkObserverSchema({} as any, manifest), [{ path: [], message: "Not a valid list." }]);
  });
});
