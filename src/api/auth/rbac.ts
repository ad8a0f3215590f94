/**
 * Role-based access control exactly as Krake's (api.md §12), with one deliberate fix (D3): list-all and
 * watch-all answer only the namespaces in which the caller may list the resource.
 *
 * Roles and bindings are kept in memory and followed through a store watch, so a check costs no store
 * round trip and a new binding takes effect as soon as it is written.
 */
import type { Store, StoreEvent, WatchHandle } from "../../store/store.js";

export interface RoleRule {
  api: string;
  resources: string[];
  namespaces: string[];
  verbs: string[];
}

export interface AccessRequest {
  verb: string;
  api: string;
  /** Plural, or `plural/sub` for subresources. */
  resource: string;
  /** Null for global kinds and for list-all. */
  namespace: string | null;
}

/** Namespaces a caller may read in a list-all: every namespace, or exactly these. */
export type NamespaceScope = "all" | Set<string>;

const ROLES = "/core/roles/";
const BINDINGS = "/core/rolebindings/";

export class RbacCache {
  private roles = new Map<string, RoleRule[]>();
  private bindings = new Map<string, { users: string[]; roles: string[] }>();
  private watches: WatchHandle[] = [];
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly onError: (err: Error) => void,
  ) {}

  async start(): Promise<void> {
    await this.follow(ROLES, (key, value) => {
      if (value === null) this.roles.delete(key);
      else this.roles.set(value.metadata.name, value.rules ?? []);
    });
    await this.follow(BINDINGS, (key, value) => {
      if (value === null) this.bindings.delete(key);
      else this.bindings.set(key, { users: value.users ?? [], roles: value.roles ?? [] });
    });
  }

  private async follow(prefix: string, apply: (key: string, value: any | null) => void): Promise<void> {
    const listing = await this.store.range(prefix);
    for (const kv of listing.kvs) apply(prefix === ROLES ? nameOf(kv.key) : kv.key, JSON.parse(kv.value));
    const handle = await this.store.watch(prefix, {
      afterRevision: listing.revision,
      onEvents: (events: StoreEvent[]) => {
        for (const e of events) {
          const id = prefix === ROLES ? nameOf(e.kv.key) : e.kv.key;
          apply(id, e.type === "delete" ? null : JSON.parse(e.kv.value));
        }
      },
      onError: (err) => {
        if (this.closed) return;
        this.onError(err);
        // Start over from a fresh listing: a stale role set must not linger.
        if (prefix === ROLES) this.roles.clear();
        else this.bindings.clear();
        void this.follow(prefix, apply).catch((e) => this.onError(e as Error));
      },
    });
    this.watches.push(handle);
  }

  stop(): void {
    this.closed = true;
    for (const w of this.watches) w.cancel();
    this.watches = [];
  }

  roleNamesOf(user: string): string[] {
    const names = new Set<string>();
    for (const b of this.bindings.values()) if (b.users.includes(user)) for (const r of b.roles) names.add(r);
    return [...names].sort();
  }

  private rulesOf(user: string): RoleRule[] {
    return this.roleNamesOf(user).flatMap((name) => this.roles.get(name) ?? []);
  }

  allows(user: string, req: AccessRequest): boolean {
    return this.rulesOf(user).some((rule) => grants(rule, req));
  }

  /** For list-all of a namespaced kind (D3). */
  listableNamespaces(user: string, api: string, resource: string): NamespaceScope {
    return this.namespacesGranting(user, "list", api, resource);
  }

  /** The namespaces in which `user` may `verb` the (namespaced) `resource`. */
  namespacesGranting(user: string, verb: string, api: string, resource: string): NamespaceScope {
    const scope = new Set<string>();
    for (const rule of this.rulesOf(user)) {
      if (!grants(rule, { verb, api, resource, namespace: null })) continue;
      if (rule.namespaces.includes("")) return "all";
      for (const ns of rule.namespaces) scope.add(ns);
    }
    return scope;
  }
}

function nameOf(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

function grants(rule: RoleRule, req: AccessRequest): boolean {
  if (rule.api !== "" && rule.api !== req.api) return false;
  if (!rule.verbs.includes(req.verb)) return false;
  if (!rule.resources.includes("") && !rule.resources.includes(req.resource)) return false;
  return req.namespace === null || rule.namespaces.includes("") || rule.namespaces.includes(req.namespace);
}
