/** Cross-field rules of Application `spec` (Krake's `_schema` errors, reported at the spec itself). */
import type { Issue } from "../schema.js";
import { checkObserverSchema } from "./observer-schema.js";
import { isPlainObject } from "./util.js";

/** Python truthiness, which Krake's rules use: `[]`, `{}`, `""` and `None` count as "not given". */
export function isGiven(v: unknown): boolean {
  if (v === null || v === undefined || v === "" || v === false || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

export function checkApplicationSpec(spec: Record<string, unknown>): Issue[] {
  if (!isPlainObject(spec)) return [];
  const issues: Issue[] = [];
  if (!isGiven(spec.manifest) && !isGiven(spec.tosca) && !isGiven(spec.csar)) {
    issues.push({
      path: [],
      message: "The application should be defined by a manifest file, a TOSCA template or a CSAR file.",
    });
  }
  if (isGiven(spec.observer_schema)) {
    const manifest = Array.isArray(spec.manifest) ? spec.manifest : [];
    for (const issue of checkObserverSchema(spec.observer_schema as object[], manifest)) {
      issues.push({ path: ["observer_schema", ...issue.path], message: issue.message });
    }
  }
  return issues;
}
