/**
 * Secret fields under RBAC: who sees them, in every kind of answer, and the GET-then-PUT rule. Three
 * servers share one store, each authenticating every request as one user (the static authenticator):
 * the admin (role:system, every resource including `<plural>/secrets`), a reader with every verb on every
 * kind but no `…/secrets`, and a partial reader with `…/secrets` only in namespace `ns-a`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ADMIN_RBAC,
  ALL_VERBS,
  eventually,
  http,
  putRbac,
  startTestApi,
  type TestApi,
} from "../support/api.js";
import { KINDS } from "../../src/resources/registry.js";
import type { KindDef } from "../../src/resources/kind.js";
import { SECRET_MARKER, forEachSecret, redactInPlace } from "../../src/resources/secrets.js";
import { secretBodies as withSecrets, secret } from "../support/secrets.js";

const NS_A = "ns-a";
const NS_B = "ns-b";
const HEADER = "krake-redacted";

let admin: TestApi;
let reader: TestApi;
let partial: TestApi;
let open: TestApi;

const SECRET_KINDS = KINDS.filter((d) => (d.secrets?.length ?? 0) > 0);

/** The secret strings of an object, as declared by its kind. */
function secretsOf(def: KindDef, obj: unknown): string[] {
  const out: string[] = [];
  forEachSecret(obj, def.secrets!, (parent, key) => out.push(JSON.stringify(parent[key])));
  return out;
}

const base = (def: KindDef, ns: string | null) =>
  def.namespaced ? `/${def.group}/namespaces/${ns}/${def.plural}` : `/${def.group}/${def.plural}`;

/** Creates `name` (as the admin) with its secrets, status secrets included; answers the stored object. */
async function seed(def: KindDef, name: string, ns: string | null): Promise<any> {
  const { body, status } = withSecrets[def.kind]();
  const created = await http(admin.url, "POST", base(def, ns), { ...body, metadata: { name } });
  assert.equal(created.status, 200, created.text);
  if (!status) return created.body;
  const withStatus = { ...created.body, status: { ...created.body.status, ...status } };
  const res = await http(admin.url, "PUT", `${base(def, ns)}/${name}/status`, withStatus);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** A reader's answer: every secret replaced by the marker, everything else as the admin sees it. */
function assertRedacted(def: KindDef, seen: any, full: any, text = JSON.stringify(seen)) {
  for (const s of secretsOf(def, full))
    assert.ok(!text.includes(s.replace(/^"|"$/g, "")), `${def.kind}: ${s} leaked`);
  const expected = structuredClone(full);
  assert.ok(redactInPlace(expected, def.secrets!), `${def.kind}: the fixture holds secrets`);
  delete expected.metadata.resource_version;
  const actual = structuredClone(seen);
  delete actual.metadata.resource_version;
  assert.deepEqual(actual, expected);
}

before(async () => {
  admin = await startTestApi({ authorization: "RBAC", staticUser: "system:admin" });
  const store = admin.server.store;
  const everything = KINDS.flatMap((d) => [
    d.plural,
    `${d.plural}/status`,
    ...d.actions.map((a) => a.rbacResource),
  ]);
  await putRbac(store, {
    roles: {
      ...ADMIN_RBAC.roles,
      "no-secrets": [{ api: "", resources: everything, namespaces: [""], verbs: ALL_VERBS }],
      "secrets-in-a": [
        { api: "", resources: KINDS.map((d) => `${d.plural}/secrets`), namespaces: [NS_A], verbs: ["get"] },
      ],
    },
    bindings: {
      ...ADMIN_RBAC.bindings,
      "rb:reader": { users: ["reader", "partial"], roles: ["no-secrets"] },
      "rb:partial": { users: ["partial"], roles: ["secrets-in-a"] },
    },
  });
  reader = await startTestApi({ authorization: "RBAC", staticUser: "reader" }, store);
  partial = await startTestApi({ authorization: "RBAC", staticUser: "partial" }, store);
  open = await startTestApi({}, store);
  await eventually(
    async () => (await http(partial.url, "GET", "/me")).body?.roles?.length === 2,
    5000,
    "roles to load",
  );
});

after(async () => {
  await open?.close();
  await partial?.close();
  await reader?.close();
  await admin?.close();
});

describe("secret fields are declared per kind", () => {
  it("every kind that holds credentials declares them", () => {
    assert.deepEqual(SECRET_KINDS.map((d) => d.kind).sort(), Object.keys(withSecrets).sort());
  });
});

for (const def of SECRET_KINDS) {
  describe(`${def.kind}: secrets under RBAC`, () => {
    const ns = def.namespaced ? NS_A : null;
    const item = (name: string, n: string | null = ns) => `${base(def, n)}/${name}`;

    it("GET: the admin sees them byte for byte as always-allow does; a reader sees the marker and the header", async () => {
      const full = await seed(def, "get", ns);
      const a = await http(admin.url, "GET", item("get"));
      const o = await http(open.url, "GET", item("get"));
      assert.equal(a.text, o.text, "wire format unchanged for permitted callers");
      assert.equal(a.headers.get(HEADER), null);
      assert.equal(o.headers.get(HEADER), null);
      assert.deepEqual(secretsOf(def, a.body), secretsOf(def, full));
      const r = await http(reader.url, "GET", item("get"));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get(HEADER), "secrets");
      assertRedacted(def, r.body, a.body, r.text);
      if (def.namespaced) {
        const p = await http(partial.url, "GET", item("get"));
        assert.equal(p.text, a.text, "secrets permitted in this namespace");
      }
    });

    it("list and list-all: per namespace of each item", async () => {
      const inA = await seed(def, "list", ns);
      const inB = def.namespaced ? await seed(def, "list", NS_B) : null;
      const rl = await http(reader.url, "GET", base(def, ns));
      assert.equal(rl.headers.get(HEADER), "secrets");
      const mine = rl.body.items.find((i: any) => i.metadata.name === "list");
      assertRedacted(def, mine, inA);
      const al = await http(admin.url, "GET", base(def, ns));
      assert.equal(al.headers.get(HEADER), null);
      assert.deepEqual(
        secretsOf(
          def,
          al.body.items.find((i: any) => i.metadata.name === "list"),
        ),
        secretsOf(def, inA),
      );
      if (!def.namespaced) return;
      const all = await http(partial.url, "GET", `/${def.group}/${def.plural}`);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get(HEADER), "secrets", "secrets hidden in some namespace");
      const byNs = (n: string) =>
        all.body.items.find((i: any) => i.metadata.name === "list" && i.metadata.namespace === n);
      assert.deepEqual(secretsOf(def, byNs(NS_A)), secretsOf(def, inA), "ns-a: visible");
      assertRedacted(def, byNs(NS_B), inB);
      const adminAll = await http(admin.url, "GET", `/${def.group}/${def.plural}`);
      assert.equal(adminAll.headers.get(HEADER), null);
    });

    it("watch: each watcher gets its own view of the same event", async () => {
      const name = "watched";
      const nsOfEvent = def.namespaced ? NS_B : null;
      const url = (api: TestApi) =>
        def.namespaced ? `${api.url}/${def.group}/${def.plural}` : `${api.url}${base(def, null)}`;
      const watchers = await Promise.all(
        [admin, reader, partial].map((api) => openWatch(url(api) + "?watch=true")),
      );
      try {
        assert.equal(watchers[0].headers.get(HEADER), null);
        assert.equal(watchers[1].headers.get(HEADER), "secrets");
        const full = await seed(def, name, nsOfEvent);
        const last = (e: any) =>
          e.object.metadata.name === name &&
          e.object.metadata.resource_version === full.metadata.resource_version;
        const [a, r, p] = await Promise.all(watchers.map((w) => w.next(last)));
        assert.deepEqual(secretsOf(def, a.object), secretsOf(def, full));
        assertRedacted(def, r.object, a.object);
        if (def.namespaced) assertRedacted(def, p.object, a.object);
        else assert.deepEqual(secretsOf(def, p.object), secretsOf(def, full));
      } finally {
        for (const w of watchers) w.close();
      }
    });

    it("POST, PUT and DELETE answers are redacted for a reader", async () => {
      const { body } = withSecrets[def.kind]();
      const created = await http(reader.url, "POST", base(def, ns), {
        ...body,
        metadata: { name: "by-reader" },
      });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.headers.get(HEADER), "secrets");
      const stored = (await http(admin.url, "GET", item("by-reader"))).body;
      assertRedacted(def, created.body, stored, created.text);
      const edited = { ...created.body, metadata: { ...created.body.metadata, labels: { edited: "yes" } } };
      const updated = await http(reader.url, "PUT", item("by-reader"), edited);
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.headers.get(HEADER), "secrets");
      const after = (await http(admin.url, "GET", item("by-reader"))).body;
      assertRedacted(def, updated.body, after, updated.text);
      const deleted = await http(reader.url, "DELETE", item("by-reader"));
      assert.equal(deleted.status, 200);
      assert.equal(deleted.headers.get(HEADER), "secrets");
      assert.ok(!secretsOf(def, stored).some((s) => deleted.text.includes(s.replace(/^"|"$/g, ""))));
    });

    it("GET-then-PUT keeps every secret; a new value is stored; POST with the marker is refused", async () => {
      const full = await seed(def, "roundtrip", ns);
      const seen = (await http(reader.url, "GET", item("roundtrip"))).body;
      seen.metadata.labels = { touched: "1" };
      const put = await http(reader.url, "PUT", item("roundtrip"), seen);
      assert.equal(put.status, 200, put.text);
      const after = (await http(admin.url, "GET", item("roundtrip"))).body;
      assert.deepEqual(after.metadata.labels, { touched: "1" });
      assert.deepEqual(secretsOf(def, after), secretsOf(def, full), "secrets unchanged");

      if (def.hasStatus) {
        const again = (await http(reader.url, "GET", item("roundtrip"))).body;
        const st = await http(reader.url, "PUT", `${item("roundtrip")}/status`, again);
        assert.equal(st.status, 200, st.text);
        const afterStatus = (await http(admin.url, "GET", item("roundtrip"))).body;
        assert.deepEqual(secretsOf(def, afterStatus), secretsOf(def, full), "status PUT keeps them too");
      }

      // A real new value in the first secret field (of the spec, where there is one) is stored.
      const fresh = (await http(reader.url, "GET", item("roundtrip"))).body;
      let replaced: string | null = null;
      forEachSecret(
        fresh,
        def.secrets!.filter((p) => p.startsWith("spec.")),
        (parent, key) => {
          if (replaced === null && typeof parent[key] === "string") parent[key] = replaced = secret("new");
        },
      );
      if (replaced !== null) {
        const res = await http(reader.url, "PUT", item("roundtrip"), fresh);
        assert.equal(res.status, 200, res.text);
        assert.ok(
          (await http(admin.url, "GET", item("roundtrip"))).text.includes(replaced),
          "the new value is stored",
        );
      }

      const marked = (await http(reader.url, "GET", item("roundtrip"))).body;
      marked.metadata = { name: "copy" };
      const refused = await http(reader.url, "POST", base(def, ns), marked);
      assert.equal(refused.status, 422, refused.text);
      assert.match(refused.body.detail, /redaction marker/);
      assert.ok(refused.body.errors.length > 0);
      for (const e of refused.body.errors)
        assert.ok(
          def.secrets!.some((p) => pathMatches(p, e.path)),
          e.path,
        );
    });
  });
}

describe("GET-then-PUT edge cases", () => {
  const def = KINDS.find((d) => d.kind === "InfrastructureProvider")!;
  const item = (name: string) => `${base(def, NS_A)}/${name}`;

  it("a field removed from the body follows the PUT rules: the IM password becomes null", async () => {
    await seed(def, "removed", NS_A);
    const seen = (await http(reader.url, "GET", item("removed"))).body;
    delete seen.spec.im.password;
    delete seen.spec.im.username;
    const res = await http(reader.url, "PUT", item("removed"), seen);
    assert.equal(res.status, 200, res.text);
    const after = (await http(admin.url, "GET", item("removed"))).body;
    assert.equal(after.spec.im.password, null);
    assert.notEqual(after.spec.im.token, SECRET_MARKER);
    assert.match(after.spec.im.token, /^s3cret-im-tk-/);
  });

  it("a marker where nothing is stored is a 422 naming the field", async () => {
    await http(admin.url, "POST", base(def, NS_A), {
      metadata: { name: "token-only" },
      spec: { type: "im", im: { url: "http://im.example", token: secret("t") } },
    });
    const seen = (await http(reader.url, "GET", item("token-only"))).body;
    seen.spec.im.password = SECRET_MARKER;
    seen.spec.im.username = "u";
    const res = await http(reader.url, "PUT", item("token-only"), seen);
    assert.equal(res.status, 422, res.text);
    assert.deepEqual(
      res.body.errors.map((e: any) => e.path),
      ["spec.im.password"],
    );
  });

  it("an unchanged GET-then-PUT is 'no update', as for a permitted caller", async () => {
    await seed(def, "unchanged", NS_A);
    const seen = (await http(reader.url, "GET", item("unchanged"))).body;
    const res = await http(reader.url, "PUT", item("unchanged"), seen);
    assert.equal(res.status, 400);
    assert.equal(res.body.title, "UPDATE_ERROR");
  });

  it("a kubeconfig exec block redacted to one string validates and is kept, matched by user name", async () => {
    const cluster = KINDS.find((d) => d.kind === "Cluster")!;
    const full = await seed(cluster, "exec", NS_A);
    const seen = (await http(reader.url, "GET", `${base(cluster, NS_A)}/exec`)).body;
    assert.equal(seen.spec.kubeconfig.users[0].user.exec, SECRET_MARKER);
    assert.equal(
      seen.spec.kubeconfig.clusters[0].cluster.server,
      full.spec.kubeconfig.clusters[0].cluster.server,
      "server stays visible",
    );
    seen.spec.backoff = 3;
    const res = await http(reader.url, "PUT", `${base(cluster, NS_A)}/exec`, seen);
    assert.equal(res.status, 200, res.text);
    const after = (await http(admin.url, "GET", `${base(cluster, NS_A)}/exec`)).body;
    assert.deepEqual(after.spec.kubeconfig, full.spec.kubeconfig);
    assert.equal(after.spec.backoff, 3);
  });

  it("always-allow: everyone sees secrets, no header (Krake's behaviour)", async () => {
    const full = await seed(def, "open", NS_A);
    const res = await http(open.url, "GET", item("open"));
    assert.equal(res.headers.get(HEADER), null);
    assert.deepEqual(secretsOf(def, res.body), secretsOf(def, full));
  });

  it("a backup (every secret, unredacted) needs get on every <plural>/secrets too", async () => {
    assert.equal((await http(reader.url, "GET", "/backup")).status, 403, "lists everything, no secrets");
    assert.equal((await http(partial.url, "GET", "/backup")).status, 403, "secrets in one namespace only");
    const full = await fetch(`${admin.url}/backup`);
    assert.equal(full.status, 200);
    await full.body?.cancel();
  });

  it("the OpenAPI document names the secret fields and the marker", async () => {
    const doc = (await http(open.url, "GET", "/openapi.json")).body;
    assert.deepEqual(
      doc.components.schemas.Cluster["x-secrets"],
      KINDS.find((d) => d.kind === "Cluster")!.secrets,
    );
    assert.equal(doc.components.schemas.Cluster["x-secret-marker"], SECRET_MARKER);
    const get = doc.paths["/kubernetes/namespaces/{namespace}/clusters/{name}"].get;
    assert.ok(get.responses["200"].headers["Krake-Redacted"]);
  });
});

/** Whether a reported field path (`a.b.0.c`) is one of a kind's secret paths. */
function pathMatches(pattern: string, path: string): boolean {
  const p = pattern.split(".");
  const q = path.split(".");
  return p.length === q.length && p.every((seg, i) => seg === q[i] || seg.startsWith("*"));
}

interface OpenWatch {
  headers: Headers;
  next(match: (e: any) => boolean): Promise<any>;
  close(): void;
}

/** A raw watch stream: its headers, and the next event that matches (with a deadline). */
async function openWatch(url: string): Promise<OpenWatch> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    headers: res.headers,
    async next(match) {
      const deadline = setTimeout(() => abort.abort(), 5000);
      try {
        for (;;) {
          const newline = buffer.indexOf("\n");
          if (newline >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line) {
              const event = JSON.parse(line);
              if (match(event)) return event;
            }
            continue;
          }
          const { value, done } = await reader.read();
          if (done) throw new Error("watch ended");
          buffer += decoder.decode(value, { stream: true });
        }
      } finally {
        clearTimeout(deadline);
      }
    },
    close: () => abort.abort(),
  };
}
