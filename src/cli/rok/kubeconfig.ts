/**
 * `kube cluster register -k FILE [-c CONTEXT]` (cli.md §2.2): Krake stores a kubeconfig with exactly one
 * context, so the user's file is reduced to the chosen (or current) context, its cluster and its user.
 * File references are inlined because the controllers run elsewhere and cannot read the user's disk.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { CliError } from "./errors.js";
import { readFileOrFail, readYamlMapping } from "./files.js";

type Entry = Record<string, any>;

export interface ReducedKubeconfig {
  kubeconfig: Record<string, any>;
  /** The kubeconfig's cluster entry name: what Krake names the registered cluster after. */
  clusterName: string;
}

/** Path-valued fields and the `*-data` field each becomes (base64 of the file). */
const INLINED_CLUSTER = ["certificate-authority"];
const INLINED_USER = ["client-certificate", "client-key"];

export function readKubeconfig(path: string, contextName?: string): ReducedKubeconfig {
  return reduceKubeconfig(readYamlMapping(path, "--kubeconfig"), contextName, dirname(resolve(path)));
}

export function reduceKubeconfig(
  doc: unknown,
  contextName: string | undefined,
  baseDir: string,
): ReducedKubeconfig {
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new CliError("--kubeconfig: the file is not a kubeconfig (expected a mapping)");
  const config = doc as Record<string, any>;
  const name = contextName ?? config["current-context"];
  if (!name) {
    throw new CliError(
      "--kubeconfig: the file has no current-context; choose one with --context " +
        `(available: ${names(config.contexts) || "none"})`,
    );
  }
  const context = find(config, "contexts", name, contextName ? "--context" : "current-context");
  const clusterRef = context.context?.cluster;
  const userRef = context.context?.user;
  if (typeof clusterRef !== "string") throw new CliError(`--kubeconfig: context '${name}' names no cluster`);
  if (typeof userRef !== "string") throw new CliError(`--kubeconfig: context '${name}' names no user`);
  const cluster = structuredClone(find(config, "clusters", clusterRef, `context '${name}'`));
  const user = structuredClone(find(config, "users", userRef, `context '${name}'`));
  inline(cluster.cluster, INLINED_CLUSTER, baseDir, `cluster '${clusterRef}'`);
  inline(user.user, INLINED_USER, baseDir, `user '${userRef}'`);
  // A token file is a path too; the token itself is what the controllers need.
  if (user.user && typeof user.user.tokenFile === "string") {
    user.user.token = readReferenced(user.user.tokenFile, baseDir, `user '${userRef}' tokenFile`)
      .toString("utf8")
      .trim();
    delete user.user.tokenFile;
  }
  const { clusters: _c, contexts: _x, users: _u, ...rest } = config;
  return {
    kubeconfig: {
      ...rest,
      clusters: [cluster],
      contexts: [structuredClone(context)],
      users: [user],
      "current-context": context.name,
    },
    clusterName: cluster.name,
  };
}

function names(list: unknown): string {
  return Array.isArray(list)
    ? list
        .map((e) => e?.name)
        .filter((n) => typeof n === "string")
        .join(", ")
    : "";
}

function find(config: Record<string, any>, section: string, name: string, referrer: string): Entry {
  const list = config[section];
  const hit = Array.isArray(list)
    ? list.find((e) => e && typeof e === "object" && e.name === name)
    : undefined;
  if (!hit) {
    throw new CliError(
      `--kubeconfig: ${section.slice(0, -1)} '${name}' (from ${referrer}) is not in the file` +
        ` (available: ${names(list) || "none"})`,
    );
  }
  return hit;
}

function readReferenced(path: string, baseDir: string, what: string): Buffer {
  // kubectl resolves relative paths against the kubeconfig's own directory, not the working directory.
  return readFileOrFail(isAbsolute(path) ? path : resolve(baseDir, path), `--kubeconfig: ${what}`);
}

function inline(body: Entry | undefined, fields: string[], baseDir: string, owner: string): void {
  if (!body || typeof body !== "object") return;
  for (const field of fields) {
    const path = body[field];
    if (typeof path !== "string") continue;
    body[`${field}-data`] = readReferenced(path, baseDir, `${owner} ${field}`).toString("base64");
    delete body[field];
  }
}
