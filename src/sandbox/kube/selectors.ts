/**
 * Label and field selectors of list and watch requests (`labelSelector=app=web,tier!=db,env in (a,b),!x`,
 * `fieldSelector=metadata.name=x`), label selectors of workload specs (`matchLabels`, `matchExpressions`),
 * and resource quantities (`100m`, `1.5Gi`).
 */
import { badRequest } from "./status.js";

export type Matcher = (labels: Record<string, string> | undefined) => boolean;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

/** Parses a label selector query; throws 400 like the real parser for what it cannot read. */
export function parseLabelSelector(text: string): Matcher {
  const reqs: Matcher[] = [];
  let i = 0;
  const s = text;
  const skipSpace = () => {
    while (s[i] === " ") i++;
  };
  const ident = (): string => {
    skipSpace();
    const start = i;
    while (i < s.length && /[A-Za-z0-9_./-]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  const fail = (found: string, expected: string) => {
    throw badRequest(`found '${found}', expected: ${expected}`);
  };
  while (true) {
    skipSpace();
    if (i >= s.length) break;
    let negated = false;
    if (s[i] === "!") {
      negated = true;
      i++;
    }
    const key = ident();
    if (!key) fail(s[i] ?? "", "!, identifier, or 'end of string'");
    if (!NAME.test(key)) throw badRequest(`invalid label key "${key}"`);
    skipSpace();
    if (negated) {
      reqs.push((l) => !(l && key in l));
    } else if (i >= s.length || s[i] === ",") {
      reqs.push((l) => Boolean(l && key in l));
    } else if (s.startsWith("==", i) || s.startsWith("!=", i) || s[i] === "=") {
      const op = s.startsWith("==", i) ? "==" : s.startsWith("!=", i) ? "!=" : "=";
      i += op.length;
      const value = ident();
      if (op === "!=") reqs.push((l) => !l || l[key] !== value);
      else reqs.push((l) => Boolean(l) && l![key] === value);
    } else {
      const word = ident();
      if (word !== "in" && word !== "notin") fail(word || s[i], "'=', '!=', '==', 'in', notin'");
      skipSpace();
      if (s[i] !== "(") fail(s[i] ?? "", "'('");
      i++;
      const values = new Set<string>();
      while (true) {
        values.add(ident());
        skipSpace();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === ")") {
          i++;
          break;
        }
        fail(s[i] ?? "", "',' or ')'");
      }
      if (word === "in") reqs.push((l) => Boolean(l && key in l && values.has(l[key])));
      else reqs.push((l) => !(l && key in l && values.has(l[key])));
    }
    skipSpace();
    if (i < s.length) {
      if (s[i] !== ",") fail(s[i], "',' or 'end of string'");
      i++;
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}

/** `metadata.name=x,metadata.namespace!=y`: only the two fields every resource supports. */
export function parseFieldSelector(text: string): (obj: any) => boolean {
  const reqs: ((obj: any) => boolean)[] = [];
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    const m = /^\s*([A-Za-z.]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const [, field, op, value] = m;
    const get =
      field === "metadata.name"
        ? (o: any) => o.metadata?.name
        : field === "metadata.namespace"
          ? (o: any) => o.metadata?.namespace ?? ""
          : field === "spec.nodeName"
            ? (o: any) => o.spec?.nodeName ?? ""
            : field === "status.phase"
              ? (o: any) => o.status?.phase ?? ""
              : undefined;
    if (!get)
      throw badRequest(
        `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    reqs.push(op === "!=" ? (o) => get(o) !== value : (o) => get(o) === value);
  }
  return (obj) => reqs.every((r) => r(obj));
}

/** A metav1.LabelSelector (matchLabels and matchExpressions). An empty selector matches everything. */
export function labelSelectorMatcher(sel: any): Matcher {
  const matchLabels: Record<string, string> = sel?.matchLabels ?? {};
  const exprs: any[] = sel?.matchExpressions ?? [];
  return (labels) => {
    for (const [k, v] of Object.entries(matchLabels)) if (labels?.[k] !== v) return false;
    for (const e of exprs) {
      const has = labels !== undefined && e.key in labels;
      const values: string[] = e.values ?? [];
      switch (e.operator) {
        case "In":
          if (!has || !values.includes(labels![e.key])) return false;
          break;
        case "NotIn":
          if (has && values.includes(labels![e.key])) return false;
          break;
        case "Exists":
          if (!has) return false;
          break;
        case "DoesNotExist":
          if (has) return false;
          break;
        default:
          return false;
      }
    }
    return true;
  };
}

export { parseQuantity } from "../../kube/quantity.js";
