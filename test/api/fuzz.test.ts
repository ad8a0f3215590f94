/**
 * Property-based fuzzing of create and update: thousands of random and mutated bodies. The server must
 * answer only 2xx or 4xx, never store anything on a 4xx, and stay up.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KINDS } from "../../src/resources/registry.js";
import type { KindDef } from "../../src/resources/kind.js";
import { bodies } from "../support/fixtures.js";
import { http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi({ bodyLimit: 256 * 1024 });
});
after(async () => {
  await api.close();
});

const RUNS = Number(process.env.KRAKE_FUZZ_RUNS ?? 1500);

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

function setAt(root: any, path: Path, value: unknown): any {
  if (path.length === 0) return value;
  let node = root;
  for (const seg of path.slice(0, -1)) node = node[seg];
  node[path[path.length - 1]] = value;
  return root;
}

function deleteAt(root: any, path: Path): any {
  if (path.length === 0) return undefined;
  let node = root;
  for (const seg of path.slice(0, -1)) node = node[seg];
  if (Array.isArray(node)) node.splice(Number(path[path.length - 1]), 1);
  else delete node[path[path.length - 1]];
  return root;
}

const weird = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom("", " ", "ünï©ødé", "a".repeat(300), "x/y", "../../etc", "-1", "1e309", "True", "null"),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 63), Number.MAX_VALUE),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
);

const mutation = fc.record({
  op: fc.constantFrom("set", "delete", "wrap", "duplicate"),
  pick: fc.nat(),
  value: weird,
});

function mutate(body: any, muts: { op: string; pick: number; value: unknown }[]): any {
  let b = structuredClone(body);
  for (const m of muts) {
    if (b === null || typeof b !== "object") break;
    const all = paths(b);
    const p = all[m.pick % all.length];
    if (m.op === "set") b = setAt(b, p, m.value);
    else if (m.op === "delete") b = deleteAt(b, p) ?? {};
    else if (m.op === "wrap") {
      let node = b;
      for (const seg of p) node = node?.[seg];
      b = setAt(b, p, [node]);
    } else {
      let node = b;
      for (const seg of p) node = node?.[seg];
      b = setAt(b, p, { copy: node, again: node });
    }
  }
  return b;
}

function collection(def: KindDef): string {
  return def.namespaced ? `/${def.group}/namespaces/fuzz/${def.plural}` : `/${def.group}/${def.plural}`;
}

describe("fuzzing create and update", () => {
  it(`answers 2xx/4xx to ${RUNS} mutated create bodies and stores nothing on 4xx`, async () => {
    const store = api.server.store;
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: KINDS.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        async (kindIndex, muts, n) => {
          const def = KINDS[kindIndex];
          const body = mutate((bodies as any)[def.kind](`fuzz-${n}`), muts);
          const before = await store.revision();
          const res = await http(api.url, "POST", collection(def), body === undefined ? "" : JSON.stringify(body));
          assert.ok(
            (res.status >= 200 && res.status < 300) || (res.status >= 400 && res.status < 500),
            `status ${res.status} for ${JSON.stringify(body).slice(0, 500)}: ${res.text.slice(0, 500)}`,
          );
          if (res.status >= 400) {
            rejected++;
            assert.equal(await store.revision(), before, `a ${res.status} answer must not write: ${res.text}`);
            assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
            if (res.status === 422) {
              assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, "422 names the fields");
            }
          } else {
            accepted++;
            // Clean up so a later run can reuse the name.
            await http(api.url, "DELETE", `${collection(def)}/${encodeURIComponent(res.body.metadata.name)}?force=True`);
            if (!def.blocking) await store.delete(keyOf(def, res.body.metadata.name));
          }
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(rejected > 0 && accepted > 0, `both outcomes should occur (accepted ${accepted}, rejected ${rejected})`);
  });

  it("answers 2xx/4xx to random JSON documents of any shape", async () => {
    const store = api.server.store;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: KINDS.length - 1 }), fc.jsonValue({ maxDepth: 6 }), async (k, doc) => {
        const before = await store.revision();
        const res = await http(api.url, "POST", collection(KINDS[k]), JSON.stringify(doc));
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${res.text.slice(0, 300)}`);
        assert.equal(await store.revision(), before);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it(`answers 2xx/4xx to ${RUNS} mutated updates and leaves the object untouched on 4xx`, async () => {
    const store = api.server.store;
    const originals = new Map<string, any>();
    for (const def of KINDS) {
      const res = await http(api.url, "POST", collection(def), (bodies as any)[def.kind]("target"));
      assert.equal(res.status, 200, res.text);
      originals.set(def.kind, res.body);
    }
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: KINDS.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (kindIndex, muts, statusRoute) => {
          const def = KINDS[kindIndex];
          const current = (await http(api.url, "GET", `${collection(def)}/target`)).body;
          const body = mutate(current, muts);
          const route = statusRoute && def.hasStatus ? "/status" : "";
          const before = await store.revision();
          const res = await http(api.url, "PUT", `${collection(def)}/target${route}`, JSON.stringify(body ?? null));
          assert.ok(
            (res.status >= 200 && res.status < 300) || (res.status >= 400 && res.status < 500),
            `status ${res.status}: ${res.text.slice(0, 500)}`,
          );
          if (res.status >= 400) assert.equal(await store.revision(), before, res.text);
          // Whatever happened, the object is still a valid one the server can serve.
          const after = await http(api.url, "GET", `${collection(def)}/target`);
          if (after.status === 200) assert.equal(after.body.metadata.name, "target");
          else {
            // A mutation emptied the finalizers of an object being deleted: recreate it.
            assert.equal(after.status, 404);
            await http(api.url, "POST", collection(def), originals.get(def.kind));
          }
        },
      ),
      { numRuns: RUNS },
    );
    const health = await http(api.url, "GET", "/");
    assert.equal(health.status, 200, "the server is still up");
  });
});

function keyOf(def: KindDef, name: string): string {
  return def.namespaced ? `/${def.group}/${def.plural}/fuzz/${name}` : `/${def.group}/${def.plural}/${name}`;
}
