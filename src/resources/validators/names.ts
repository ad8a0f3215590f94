/** Resource names and namespaces (api.md §6). */
import type { Issue } from "../schema.js";

// Krake compiles its pattern with re.ASCII, so `\w` is spelled out: JavaScript's `\w` is ASCII too, but
// only as long as nobody adds the `i` and `u` flags.
const W = "[A-Za-z0-9_]";
const NAME_RE = new RegExp(`^(?:${W}|${W}[A-Za-z0-9_\\-.:]{0,253}${W})$`);

export function isValidResourceName(value: unknown): value is string {
  return typeof value === "string" && NAME_RE.test(value);
}

export function checkResourceName(value: unknown): Issue[] {
  return isValidResourceName(value) ? [] : [{ path: [], message: "Invalid character in resource name." }];
}

export function checkResourceNamespace(value: unknown): Issue[] {
  return isValidResourceName(value)
    ? []
    : [{ path: [], message: "Invalid character in resource namespace." }];
}
