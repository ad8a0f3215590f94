/**
 * Cluster `spec.kubeconfig` (api.md §8.4). Krake loads the document with kubernetes_asyncio's
 * KubeConfigLoader and then demands exactly one context, user and cluster; the loader's messages
 * ("Invalid kube-config file. Expected ...") are kept where the same defect is found. We are stricter in
 * two places, because Krake's controllers would fail on such a document later anyway: the context must
 * name the one user, and the cluster must have a `server` URL.
 */
import type { Issue } from "../schema.js";
import { guarded, isPlainObject, own, plain, quote, type Path } from "./util.js";

const INVALID = "Invalid kube-config file.";

type Section = "contexts" | "users" | "clusters";
const SINGULAR: Record<Section, string> = { contexts: "context", users: "user", clusters: "cluster" };

/** The single named entry of a section, or null after reporting why there is none. */
function single(
  kc: Record<string, unknown>,
  section: Section,
  issues: Issue[],
): Record<string, unknown> | null {
  const list = own(kc, section);
  if (list === undefined || list === null) {
    issues.push({ path: [section], message: `${INVALID} Expected key ${section} in kube-config` });
    return null;
  }
  if (!Array.isArray(list)) {
    issues.push({ path: [section], message: `${INVALID} Expected kube-config/${section} to be a list` });
    return null;
  }
  let named = true;
  list.forEach((entry, i) => {
    if (!isPlainObject(entry) || typeof own(entry, "name") !== "string") {
      named = false;
      issues.push({
        path: [section, i],
        message: `${INVALID} Expected all values in kube-config/${section} list to have 'name' key`,
      });
    }
  });
  if (list.length === 0) {
    issues.push({
      path: [section],
      message: `Exactly one ${SINGULAR[section]} is required, the list is empty`,
    });
    return null;
  }
  if (list.length > 1) {
    issues.push({ path: [section], message: `Only one ${SINGULAR[section]} is allowed` });
    return null;
  }
  return named ? (list[0] as Record<string, unknown>) : null;
}

/** The `context`/`user`/`cluster` object inside a named entry, e.g. `contexts[0].context`. */
function body(
  entry: Record<string, unknown>,
  section: Section,
  issues: Issue[],
): Record<string, unknown> | null {
  const key = SINGULAR[section];
  const value = own(entry, key);
  const where = `kube-config/${section}[name=${plain(entry.name)}]`;
  if (value === undefined || value === null) {
    issues.push({ path: [section, 0, key], message: `${INVALID} Expected key ${key} in ${where}` });
    return null;
  }
  if (!isPlainObject(value)) {
    issues.push({ path: [section, 0, key], message: `${INVALID} Expected ${where}/${key} to be an object` });
    return null;
  }
  return value;
}

function reference(
  context: Record<string, unknown>,
  contextName: unknown,
  field: "cluster" | "user",
  target: Record<string, unknown> | null,
  issues: Issue[],
): void {
  const path: Path = ["contexts", 0, "context", field];
  const ref = own(context, field);
  if (ref === undefined || ref === null || ref === "") {
    issues.push({
      path,
      message: `${INVALID} Expected key ${field} in kube-config/contexts[name=${plain(contextName)}]/context`,
    });
    return;
  }
  if (typeof ref !== "string") {
    issues.push({ path, message: `${INVALID} The ${field} of the context must be a name (a string)` });
    return;
  }
  if (target && target.name !== ref) {
    issues.push({
      path,
      message: `${INVALID} Expected object with name ${plain(ref)} in kube-config/${field}s list`,
    });
  }
}

function checkServer(cluster: Record<string, unknown>, clusterName: unknown, issues: Issue[]): void {
  const path: Path = ["clusters", 0, "cluster", "server"];
  const server = own(cluster, "server");
  if (server === undefined || server === null || server === "") {
    issues.push({
      path,
      message: `${INVALID} Expected key server in kube-config/clusters[name=${plain(clusterName)}]/cluster`,
    });
    return;
  }
  let url: URL | null = null;
  try {
    if (typeof server === "string") url = new URL(server);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.hostname === "") {
    issues.push({ path, message: `${INVALID} The server ${quote(server)} is not an http or https URL` });
  }
}

function check(kc: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const contextEntry = single(kc, "contexts", issues);
  const userEntry = single(kc, "users", issues);
  const clusterEntry = single(kc, "clusters", issues);

  // Krake's loader reads `current-context` to select the context, so it is required there too.
  const current = own(kc, "current-context");
  if (current === undefined || current === null) {
    issues.push({
      path: ["current-context"],
      message: `${INVALID} Expected key current-context in kube-config`,
    });
  } else if (typeof current !== "string") {
    issues.push({
      path: ["current-context"],
      message: `${INVALID} The current-context must be a context name`,
    });
  } else if (contextEntry && contextEntry.name !== current) {
    issues.push({
      path: ["current-context"],
      message: `${INVALID} Expected object with name ${plain(current)} in kube-config/contexts list`,
    });
  }

  const context = contextEntry && body(contextEntry, "contexts", issues);
  if (userEntry) body(userEntry, "users", issues);
  const cluster = clusterEntry && body(clusterEntry, "clusters", issues);
  if (context) {
    reference(context, contextEntry!.name, "cluster", clusterEntry, issues);
    reference(context, contextEntry!.name, "user", userEntry, issues);
  }
  if (cluster) checkServer(cluster, clusterEntry!.name, issues);
  return issues;
}

/** An empty kubeconfig is fine here: whether one is needed at all is the Cluster spec's rule. */
export function checkKubeconfig(kc: Record<string, unknown>): Issue[] {
  if (!isPlainObject(kc)) return [{ path: [], message: "Not a valid mapping type." }];
  if (Object.keys(kc).length === 0) return [];
  return guarded("The kubeconfig", () => check(kc));
}
