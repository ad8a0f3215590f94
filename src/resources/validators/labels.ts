/**
 * Label keys and values (api.md §6): key `[prefix/]name`, name and value 1–63 characters, prefix up to
 * 253, each made of letters, digits, '-', '_' and '.', beginning and ending with a letter, digit or '_'.
 * The label constraint parser reuses these rules for its keys and values.
 */
import type { Issue } from "../schema.js";
import { isPlainObject, quote, typeName } from "./util.js";

const NAME_MAX = 63;
const PREFIX_MAX = 253;
const EDGE = /^[A-Za-z0-9_]$/;
const INNER = /^[A-Za-z0-9_.-]$/;
const ALLOWED = "only letters, digits, '-', '_' and '.' are allowed";

/** Why one dot-separated part fails the pattern `\w|\w[\w\-_.]{0,max-2}\w`, or null. */
function partProblem(part: string, subject: string, max: number): string | null {
  if (part.length === 0) return `${subject} is empty`;
  for (const ch of part) {
    if (!INNER.test(ch)) return `${subject} contains the invalid character ${quote(ch)}; ${ALLOWED}`;
  }
  if (part.length > max) return `${subject} is ${part.length} characters long, at most ${max} are allowed`;
  if (!EDGE.test(part[0]) || !EDGE.test(part[part.length - 1])) {
    return `${subject} must begin and end with a letter, a digit or '_'`;
  }
  return null;
}

/** Why `key` is not a valid label key (without the "Label key ... is invalid" head), or null. */
export function labelKeyProblem(key: unknown): string | null {
  if (typeof key !== "string") return `it must be a string, not ${typeName(key)}`;
  const slash = key.indexOf("/");
  if (slash < 0) return partProblem(key, "it", NAME_MAX);
  if (key.indexOf("/", slash + 1) >= 0) return "it contains more than one '/' (the form is 'prefix/name')";
  const prefix = key.slice(0, slash);
  const name = key.slice(slash + 1);
  return (
    partProblem(prefix, "its prefix before '/'", PREFIX_MAX) ??
    partProblem(name, "its name after '/'", NAME_MAX)
  );
}

/** Why `value` is not a valid label value, or null. An empty value is invalid, as in Krake. */
export function labelValueProblem(value: unknown): string | null {
  if (typeof value !== "string") return `it must be a string, not ${typeName(value)}`;
  return partProblem(value, "it", NAME_MAX);
}

export const isValidLabelKey = (key: unknown): key is string => labelKeyProblem(key) === null;
export const isValidLabelValue = (value: unknown): value is string => labelValueProblem(value) === null;

export function labelKeyMessage(key: unknown, problem: string): string {
  return `Label key ${quote(key)} is invalid: ${problem}.`;
}

export function labelValueMessage(value: unknown, problem: string): string {
  return `Label value ${quote(value)} is invalid: ${problem}.`;
}

/** Issues are keyed by the label key, whether the key or its value is wrong. */
export function checkLabels(labels: unknown): Issue[] {
  if (!isPlainObject(labels)) return [{ path: [], message: "Not a valid mapping type." }];
  const issues: Issue[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) issues.push({ path: [key], message: labelKeyMessage(key, keyProblem) });
    const valueProblem = labelValueProblem(value);
    if (valueProblem) issues.push({ path: [key], message: labelValueMessage(value, valueProblem) });
  }
  return issues;
}
