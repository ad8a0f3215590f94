/**
 * The controllers' roles in support/base_roles.yaml, against an RBAC API: each controller's user may make
 * every call its code makes (informers list and watch every namespace, its writes, the credentials it
 * uses) and is refused a sample of what it does not need. Authorization comes before the body and the
 * lookup, so a permitted call on a missing object answers 404 or 422, a refused one 403, with no fixtures.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { http } from "../support/api.js";
import { startRbacApi, type RbacApi } from "../support/rbac.js";
import { KINDS, kindByPlural } from "../../src/resources/registry.js";
import { CONTROLLER_NAMES, CONTROLLER_USERS } from "../../src/controllers/index.js";

/** `verb group/resource`, e.g. `update kubernetes/applications/binding`; `list` means list and watch everywhere. */
type Access = string;

const NS = "team-a";
const LEASE: Access[] = ["get core/leases", "create core/leases", "update core/leases"];
const secretsOf = (...plurals: string[]) =>
  plurals.map((p) => `get ${kindByPlural(groupOf(p), p)!.group}/${p}/secrets`);
const groupOf = (plural: string) => KINDS.find((k) => k.plural === plural)!.group;
const lists = (...plurals: string[]) => plurals.map((p) => `list ${groupOf(p)}/${p}`);

interface Contract {
  user: string;
  needs: Access[];
  refused: Access[];
}

const INFRA = ["clouds", "globalclouds", "infrastructureproviders", "globalinfrastructureproviders"];
const METRICS = ["metrics", "globalmetrics", "metricsproviders", "globalmetricsproviders"];

const CONTRACTS: Record<(typeof CONTROLLER_NAMES)[number] | "complete-hook" | "shutdown-hook", Contract> = {
  scheduler: {
    user: CONTROLLER_USERS.scheduler,
    needs: [
      ...LEASE,
      ...lists(
        "applications",
        "clusters",
        "clustertemplates",
        "globalclustertemplates",
        "clouds",
        "globalclouds",
        ...METRICS,
      ),
      ...secretsOf("metricsproviders", "globalmetricsproviders"),
      "get kubernetes/applications",
      "update kubernetes/applications/binding",
      "update kubernetes/applications/status",
      "get kubernetes/clusters",
      "create kubernetes/clusters",
      "delete kubernetes/clusters",
      "update kubernetes/clusters/binding",
      "update kubernetes/clusters/status",
      "update infrastructure/clouds/status",
      "update infrastructure/globalclouds/status",
    ],
    refused: [
      "delete infrastructure/clouds",
      "delete infrastructure/globalclouds",
      "update kubernetes/applications",
      "update kubernetes/clusters",
      "delete kubernetes/applications",
      ...secretsOf("clusters", "applications", ...INFRA),
      "create core/roles",
      "list core/roles",
    ],
  },
  gc: {
    user: CONTROLLER_USERS.gc,
    needs: [
      ...LEASE,
      ...KINDS.flatMap((k) => ["list", "update", "delete"].map((verb) => `${verb} ${k.group}/${k.plural}`)),
    ],
    refused: [
      // It never reads a credential, and it creates nothing.
      ...KINDS.map((k) => `get ${k.group}/${k.plural}/secrets`),
      ...KINDS.filter((k) => k.kind !== "Lease").map((k) => `create ${k.group}/${k.plural}`),
      "update kubernetes/applications/status",
      "update kubernetes/clusters/binding",
    ],
  },
  infrastructure: {
    user: CONTROLLER_USERS.infrastructure,
    needs: [
      ...LEASE,
      ...lists("clusters", ...INFRA),
      ...secretsOf("clusters", ...INFRA),
      "update kubernetes/clusters",
      "update kubernetes/clusters/status",
    ],
    refused: [
      "create kubernetes/clusters",
      "delete kubernetes/clusters",
      "update kubernetes/clusters/binding",
      "list kubernetes/applications",
      ...secretsOf("applications", "metricsproviders"),
      "update infrastructure/clouds",
      "list core/roles",
    ],
  },
  cluster: {
    user: CONTROLLER_USERS.cluster,
    needs: [...LEASE, ...lists("clusters"), ...secretsOf("clusters"), "update kubernetes/clusters/status"],
    refused: [
      "update kubernetes/clusters",
      "delete kubernetes/clusters",
      "list kubernetes/applications",
      ...secretsOf("applications", ...INFRA),
    ],
  },
  application: {
    user: CONTROLLER_USERS.application,
    needs: [
      ...LEASE,
      ...lists("applications", "clusters"),
      ...secretsOf("applications", "clusters"),
      "update kubernetes/applications",
      "update kubernetes/applications/status",
      "update kubernetes/applications/binding",
    ],
    refused: [
      "create kubernetes/applications",
      "delete kubernetes/applications",
      "update kubernetes/applications/complete",
      "update kubernetes/clusters/status",
      "update kubernetes/clusters",
      ...secretsOf(...INFRA),
    ],
  },
  autoscaler: {
    user: CONTROLLER_USERS.autoscaler,
    needs: [
      ...LEASE,
      ...lists("clusters", ...INFRA, ...METRICS),
      ...secretsOf("clusters", ...INFRA, "metricsproviders", "globalmetricsproviders"),
      "update kubernetes/clusters/status",
    ],
    refused: [
      // Worker counts change through the status it records; the spec is the user's.
      "update kubernetes/clusters",
      "create kubernetes/clusters",
      "delete kubernetes/clusters",
      "list kubernetes/applications",
      ...secretsOf("applications"),
    ],
  },
  "complete-hook": {
    user: "system:complete-hook",
    needs: ["update kubernetes/applications/complete"],
    refused: ["update kubernetes/applications/shutdown", "get kubernetes/applications", "get core/leases"],
  },
  "shutdown-hook": {
    user: "system:shutdown-hook",
    needs: ["update kubernetes/applications/shutdown"],
    refused: ["update kubernetes/applications/complete", "get kubernetes/applications", "get core/leases"],
  },
};

interface Parsed {
  verb: string;
  group: string;
  plural: string;
  sub: string | null;
}

function parse(access: Access): Parsed {
  const [verb, path] = access.split(" ");
  const [group, plural, sub] = path.split("/");
  assert.ok(kindByPlural(group, plural), `unknown resource in '${access}'`);
  return { verb, group, plural, sub: sub ?? null };
}

/**
 * Asks the API (over HTTP where the access has a route, the authorizer itself for `<plural>/secrets`).
 * Informers list and watch across namespaces, so `list` is asked as a list-all and as a watch.
 */
async function permitted(api: RbacApi, user: string, access: Access): Promise<boolean> {
  const { verb, group, plural, sub } = parse(access);
  const def = kindByPlural(group, plural)!;
  if (sub === "secrets") {
    return api.allows(user, {
      verb,
      api: group,
      resource: `${plural}/secrets`,
      namespace: def.namespaced ? NS : null,
    });
  }
  const collection = def.namespaced ? `/${group}/namespaces/${NS}/${plural}` : `/${group}/${plural}`;
  const item = `${collection}/no-such-object`;
  const headers = api.header(user);
  const status = async (method: string, path: string, body?: unknown) =>
    (await http(api.url, method, path, body, headers)).status;
  let answers: number[];
  if (verb === "list") {
    answers = [
      await status("GET", `/${group}/${plural}`),
      await watchStatus(api, user, `/${group}/${plural}`),
    ];
  } else if (sub) {
    answers = [await status("PUT", `${item}/${sub}`, {})];
  } else {
    const method = { get: "GET", create: "POST", update: "PUT", delete: "DELETE" }[verb]!;
    answers = [
      await status(
        method,
        verb === "create" ? collection : item,
        verb === "get" || verb === "delete" ? undefined : {},
      ),
    ];
  }
  for (const s of answers) assert.ok([200, 403, 404, 422].includes(s), `${access}: unexpected ${s}`);
  assert.ok(
    answers.every((s) => s === 403) || answers.every((s) => s !== 403),
    `${access}: list and watch disagree`,
  );
  return answers[0] !== 403;
}

/** The status of a watch request; the stream is closed as soon as the answer's head arrives. */
async function watchStatus(api: RbacApi, user: string, path: string): Promise<number> {
  const abort = new AbortController();
  const res = await fetch(`${api.url}${path}?watch=true`, {
    headers: api.header(user),
    signal: abort.signal,
  });
  abort.abort();
  return res.status;
}

let api: RbacApi;
before(async () => {
  api = await startRbacApi({ baseRoles: true });
});
after(async () => {
  await api?.close();
});

describe("the controllers' roles (support/base_roles.yaml)", () => {
  for (const [name, contract] of Object.entries(CONTRACTS)) {
    it(`${name} (${contract.user}) may make every call it makes`, async () => {
      const refused: string[] = [];
      for (const access of contract.needs)
        if (!(await permitted(api, contract.user, access))) refused.push(access);
      assert.deepEqual(refused, [], `refused to ${contract.user}`);
    });

    it(`${name} (${contract.user}) is refused what it does not need`, async () => {
      const allowed: string[] = [];
      for (const access of contract.refused)
        if (await permitted(api, contract.user, access)) allowed.push(access);
      assert.deepEqual(allowed, [], `allowed to ${contract.user}`);
    });
  }

  it("covers every controller krake can run", () => {
    for (const name of CONTROLLER_NAMES) assert.ok(name in CONTRACTS, `no contract for ${name}`);
  });

  it("a user without a binding is refused, and anonymous callers get 401", async () => {
    assert.equal(
      (await http(api.url, "GET", "/kubernetes/clusters", undefined, api.header("mallory"))).status,
      403,
    );
    assert.equal((await http(api.url, "GET", "/kubernetes/clusters")).status, 401);
  });
});
