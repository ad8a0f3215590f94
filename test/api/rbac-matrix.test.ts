/**
 * The RBAC matrix, generated from the kind registry (a new kind is covered without touching this file):
 * for every kind, one user per verb (create, get, list, update, delete) and per subresource (status,
 * binding, complete, shutdown, …), each granted exactly that in one namespace. Every request of the kind —
 * in that namespace, in another, across all namespaces (list-all and watch-all), or global — is answered
 * 2xx exactly when the grant covers it, 403 otherwise; a user of another kind gets 403 throughout; anonymous
 * callers get 401. List-all and watch-all return only the namespaces the caller may list (D3).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { http } from "../support/api.js";
import { bodies } from "../support/fixtures.js";
import { startRbacApi, type RbacApi } from "../support/rbac.js";
import { waitForAccess } from "../../src/cli/identities.js";
import { KINDS } from "../../src/resources/registry.js";
import type { KindDef } from "../../src/resources/kind.js";
import { Role, RoleBinding } from "../../src/resources/registry.js";

const OWN = "own";
const OTHER = "other";
const VERBS = ["create", "get", "list", "update", "delete"] as const;

/** A body for a new object of `def` (the fixtures have one per kind: a missing one fails here, loudly). */
function bodyOf(def: KindDef, name: string): any {
  const make = (bodies as Record<string, (name: string) => unknown>)[def.kind];
  assert.ok(make, `test/support/fixtures.ts has no body for ${def.kind}`);
  return { api: def.group, kind: def.kind, ...structuredClone(make(name) as object) };
}

/** The subresources of `def` with their RBAC resource names (status, then each action). */
function subresourcesOf(def: KindDef): { path: string; resource: string; body: (obj: any) => unknown }[] {
  const subs: { path: string; resource: string; body: (obj: any) => unknown }[] = [];
  if (def.hasStatus) {
    subs.push({
      path: "status",
      resource: `${def.plural}/status`,
      body: (obj) => {
        delete obj.metadata.resource_version;
        return obj;
      },
    });
  }
  for (const action of def.actions) {
    subs.push({ path: action.name, resource: action.rbacResource, body: () => ({}) });
  }
  return subs;
}

interface Grant {
  user: string;
  api: string;
  verb: string;
  resource: string;
  namespaces: string[];
}

/** One request and the grant it needs. `namespace` "*" is list-all or watch-all. */
interface Case {
  label: string;
  verb: string;
  resource: string;
  namespace: string | null;
  /** Sends it as `user` (null: anonymous). */
  send(user: string | null): Promise<Answer>;
}

interface Answer {
  status: number;
  detail?: string;
}

let api: RbacApi;
let serial = 0;
const grants = new Map<string, Grant[]>();

function covers(grant: Grant, c: Case): boolean {
  if (grant.verb !== c.verb || grant.resource !== c.resource) return false;
  // A global request, or a list-all (the answer is then restricted to the granted namespaces: D3).
  if (c.namespace === null || c.namespace === "*") return true;
  return grant.namespaces.includes("") || grant.namespaces.includes(c.namespace);
}

function casesOf(def: KindDef): Case[] {
  const headersOf = (user: string | null) => (user ? api.header(user) : {});
  const collection = (ns: string | null) =>
    ns === null ? `/${def.group}/${def.plural}` : `/${def.group}/namespaces/${ns}/${def.plural}`;
  const request = async (
    user: string | null,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> => {
    const res = await http(api.url, method, path, body, headersOf(user));
    return { status: res.status, detail: res.body?.detail };
  };
  const watch = async (user: string | null, path: string): Promise<Answer> => {
    const abort = new AbortController();
    const res = await fetch(`${api.url}${path}?watch=true`, {
      headers: headersOf(user),
      signal: abort.signal,
    });
    const status = res.status;
    const detail = status === 200 ? undefined : ((await res.json()) as { detail?: string }).detail;
    abort.abort();
    return { status, detail };
  };
  const current = async (ns: string | null, name: string) => (await api.admin.kind(def).get(name, ns)) as any;

  const scopes: (string | null)[] = def.namespaced ? [OWN, OTHER] : [null];
  const cases: Case[] = [];
  for (const ns of scopes) {
    const where = ns ?? "global";
    const item = (name: string) => `${collection(ns)}/${name}`;
    cases.push(
      {
        label: `create in ${where}`,
        verb: "create",
        resource: def.plural,
        namespace: ns,
        send: (user) => request(user, "POST", collection(ns), bodyOf(def, `c-${serial++}`)),
      },
      {
        label: `get in ${where}`,
        verb: "get",
        resource: def.plural,
        namespace: ns,
        send: (user) => request(user, "GET", item("x")),
      },
      {
        label: `list in ${where}`,
        verb: "list",
        resource: def.plural,
        namespace: ns,
        send: (user) => request(user, "GET", collection(ns)),
      },
      {
        label: `watch in ${where}`,
        verb: "list",
        resource: def.plural,
        namespace: ns,
        send: (user) => watch(user, collection(ns)),
      },
      {
        label: `update in ${where}`,
        verb: "update",
        resource: def.plural,
        namespace: ns,
        send: async (user) => {
          const obj = await current(ns, "x");
          obj.metadata.labels = { ...obj.metadata.labels, touched: String(serial++) };
          delete obj.metadata.resource_version;
          return request(user, "PUT", item("x"), obj);
        },
      },
      {
        label: `delete in ${where}`,
        verb: "delete",
        resource: def.plural,
        namespace: ns,
        send: async (user) => {
          const name = `d-${serial++}`;
          await api.admin.kind(def).create(bodyOf(def, name), ns);
          return request(user, "DELETE", item(name));
        },
      },
    );
    for (const sub of subresourcesOf(def)) {
      cases.push({
        label: `${sub.path} in ${where}`,
        verb: "update",
        resource: sub.resource,
        namespace: ns,
        send: async (user) =>
          request(user, "PUT", `${item("x")}/${sub.path}`, sub.body(await current(ns, "x"))),
      });
    }
  }
  if (def.namespaced) {
    cases.push(
      {
        label: "list-all",
        verb: "list",
        resource: def.plural,
        namespace: "*",
        send: (user) => request(user, "GET", collection(null)),
      },
      {
        label: "watch-all",
        verb: "list",
        resource: def.plural,
        namespace: "*",
        send: (user) => watch(user, collection(null)),
      },
    );
  }
  return cases;
}

/** The answers of the authorizer (the complete and shutdown actions answer 401 for a wrong hook token). */
const REFUSED = new Map([
  [401, "401: Unauthorized"],
  [403, "403: Forbidden"],
]);
const refused = (a: Answer, status: 401 | 403) => a.status === status && a.detail === REFUSED.get(status);

/**
 * Whether an answer means "let through": 2xx; for an action (binding, complete, …) whose body this test does
 * not make valid, any answer but the authorizer's refusals.
 */
function letThrough(c: Case, a: Answer): boolean {
  const action = c.resource.includes("/") && !c.label.startsWith("status");
  if (action) return !refused(a, 401) && !refused(a, 403);
  return a.status >= 200 && a.status < 300;
}

async function grant(g: Grant): Promise<void> {
  const name = `matrix-${serial++}`;
  await api.admin.kind(Role).create({
    metadata: { name },
    rules: [{ api: g.api, resources: [g.resource], namespaces: g.namespaces, verbs: [g.verb] }],
  });
  await api.admin.kind(RoleBinding).create({ metadata: { name }, users: [g.user], roles: [name] });
}

before(async () => {
  api = await startRbacApi();
  for (const def of KINDS) {
    const api_ = def.group;
    const list: Grant[] = VERBS.map((verb) => ({
      user: `${def.plural}:${verb}`,
      api: api_,
      verb,
      resource: def.plural,
      namespaces: [OWN],
    }));
    if (def.namespaced)
      list.push({
        user: `${def.plural}:list-everywhere`,
        api: api_,
        verb: "list",
        resource: def.plural,
        namespaces: [""],
      });
    for (const sub of subresourcesOf(def)) {
      if (!list.some((g) => g.resource === sub.resource))
        list.push({
          user: `${sub.resource}:update`,
          api: api_,
          verb: "update",
          resource: sub.resource,
          namespaces: [OWN],
        });
    }
    grants.set(def.kind, list);
    for (const g of list) await grant(g);
    for (const ns of def.namespaced ? [OWN, OTHER] : [null])
      await api.admin.kind(def).create(bodyOf(def, "x"), ns);
  }
  // The last grant written is the last the authorizer learns of (one watch, in revision order).
  const last = [...grants.values()].at(-1)!.at(-1)!;
  const probe = KINDS.at(-1)!;
  const ok = await waitForAccess(async () => {
    const status = (
      await http(
        api.url,
        "GET",
        `/${probe.group}/namespaces/${OWN}/${probe.plural}/x`,
        undefined,
        api.header(last.user),
      )
    ).status;
    if (status === 403) throw Object.assign(new Error("403"), { status });
  }, 5000);
  assert.ok(ok);
});
after(async () => {
  await api?.close();
});

describe("RBAC matrix", () => {
  for (const def of KINDS) {
    it(`${def.kind}: each verb and subresource is granted exactly where a rule says`, async () => {
      const problems: string[] = [];
      const other = KINDS[(KINDS.indexOf(def) + 1) % KINDS.length];
      const strangers = [`${other.plural}:get`, `${other.plural}:update`];
      for (const c of casesOf(def)) {
        for (const g of grants.get(def.kind)!) {
          const answer = await c.send(g.user);
          const expected = covers(g, c);
          if (expected ? !letThrough(c, answer) : !refused(answer, 403))
            problems.push(`${g.user} ${c.label}: ${answer.status}, expected ${expected ? "2xx" : 403}`);
        }
        for (const user of strangers) {
          const answer = await c.send(user);
          if (!refused(answer, 403)) problems.push(`${user} ${c.label}: ${answer.status}, expected 403`);
        }
        const admin = await c.send("system:admin");
        if (!letThrough(c, admin)) problems.push(`system:admin ${c.label}: ${admin.status}`);
        const anonymous = await c.send(null);
        if (!refused(anonymous, 401))
          problems.push(`anonymous ${c.label}: ${anonymous.status}, expected 401`);
      }
      assert.deepEqual(problems, []);
    });
  }
});

describe("list-all and watch-all return only the namespaces the caller may list (D3)", () => {
  for (const def of KINDS.filter((k) => k.namespaced)) {
    it(def.kind, async () => {
      const namespacesSeen = async (user: string) => {
        const listed = await api.as(user).kind(def).listAll();
        const watched = new Set<string>();
        // Replayed from the start in revision order: the own namespace's marker, written last, ends the read.
        const marker = `m-${serial++}`;
        await api.admin.kind(def).create(bodyOf(def, marker), OTHER);
        await api.admin.kind(def).create(bodyOf(def, marker), OWN);
        const abort = new AbortController();
        for await (const event of api
          .as(user)
          .kind(def)
          .watch(undefined, { resourceVersion: 0, signal: abort.signal })) {
          watched.add(event.object.metadata.namespace!);
          if (event.object.metadata.name === marker && event.object.metadata.namespace === OWN) break;
        }
        abort.abort();
        return {
          listed: [...new Set(listed.items.map((i) => i.metadata.namespace))].sort(),
          watched: [...watched].sort(),
        };
      };
      assert.deepEqual(await namespacesSeen(`${def.plural}:list`), { listed: [OWN], watched: [OWN] });
      assert.deepEqual(await namespacesSeen(`${def.plural}:list-everywhere`), {
        listed: [OTHER, OWN],
        watched: [OTHER, OWN],
      });
    });
  }
});
