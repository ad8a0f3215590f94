/** Cross-field rule of Cluster `spec` (Krake's `_schema` error, reported at the spec itself). */
import type { Issue } from "../schema.js";
import { isGiven } from "./application.js";
import { isPlainObject } from "./util.js";

export function checkClusterSpec(spec: Record<string, unknown>): Issue[] {
  if (!isPlainObject(spec)) return [];
  if (isGiven(spec.kubeconfig) || isGiven(spec.tosca)) return [];
  return [{ path: [], message: "The cluster should be defined by a kubeconfig file or a TOSCA template." }];
}
