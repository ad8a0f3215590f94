/**
 * Label and metric constraints (controllers.md §2.1): parsers to a typed AST, their semantics, canonical
 * formatting, and the list checks used by the schemas.
 *
 * Compatibility rule: everything accepted here must also be accepted by Krake's own parser with the same
 * meaning, because Krake's Python controllers parse the stored strings again. Where Krake's grammar is
 * ambiguous or odd (operator words glued to values, `=>5`, `nan`, `1_000`, signs), we reject.
 */
import type { Issue } from "../schema.js";
import { labelKeyProblem, labelValueProblem } from "./labels.js";
import { quote } from "./util.js";

export class ConstraintSyntaxError extends Error {
  override name = "ConstraintSyntaxError";
}

export type LabelConstraint =
  { key: string; op: "==" | "!="; value: string } | { key: string; op: "in" | "not in"; values: string[] };

export type MetricOperator = "==" | "!=" | ">" | ">=" | "<" | "<=";

export interface MetricConstraint {
  metric: string;
  op: MetricOperator;
  value: number;
}

// Krake's token: anything but space, comma, parentheses, '=' and '!'. Tabs are deliberately part of it:
// Krake's lexer glues them onto tokens too, so they end up rejected by the label rules.
const WORD = /[^ ,()=!]+/y;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  private skipSpaces(): void {
    while (this.text.charCodeAt(this.pos) === 0x20) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpaces();
    return this.pos >= this.text.length;
  }

  peekChar(): string {
    this.skipSpaces();
    return this.text.charAt(this.pos);
  }

  word(): string | null {
    this.skipSpaces();
    WORD.lastIndex = this.pos;
    const m = WORD.exec(this.text);
    if (!m) return null;
    this.pos = WORD.lastIndex;
    return m[0];
  }

  peekWord(): string | null {
    const save = this.pos;
    const w = this.word();
    this.pos = save;
    return w;
  }

  symbol(s: string): boolean {
    this.skipSpaces();
    if (!this.text.startsWith(s, this.pos)) return false;
    this.pos += s.length;
    return true;
  }

  /** What comes next, for error messages. */
  found(): string {
    this.skipSpaces();
    if (this.pos >= this.text.length) return "the end of the constraint";
    return quote(this.peekWord() ?? this.text.charAt(this.pos));
  }
}

const fail = (message: string): never => {
  throw new ConstraintSyntaxError(message);
};

function expectEnd(s: Scanner, after: string): void {
  if (!s.atEnd()) fail(`unexpected ${s.found()} after ${after}`);
}

// ---------------------------------------------------------------------------------------------------------
// Label constraints

const LABEL_OPERATORS = "'=', '==', 'is', '!=', 'is not', 'in (...)' or 'not in (...)'";

function labelValue(s: Scanner, after: string): string {
  const value = s.word();
  if (value === null) return fail(`expected a label value after ${after}, found ${s.found()}`);
  const problem = labelValueProblem(value);
  if (problem) fail(`label value ${quote(value)} is invalid: ${problem}`);
  return value;
}

/** `( v1, v2, ... )`: a trailing comma, even several, is allowed, as in Krake; empty lists are not. */
function valueList(s: Scanner, after: string): string[] {
  if (!s.symbol("(")) fail(`expected '(' after ${after}, found ${s.found()}`);
  const values: string[] = [];
  for (;;) {
    values.push(labelValue(s, values.length === 0 ? "'('" : "','"));
    if (s.symbol(")")) break;
    if (!s.symbol(","))
      fail(`expected ',' or ')' after ${quote(values[values.length - 1])}, found ${s.found()}`);
    if (s.symbol(")")) break;
    if (s.peekChar() === ",") {
      while (s.symbol(","));
      if (!s.symbol(")")) fail(`expected ')' after the trailing commas, found ${s.found()}`);
      break;
    }
  }
  return values;
}

export function parseLabelConstraint(text: string): LabelConstraint {
  if (typeof text !== "string") return fail("a constraint must be a string");
  const s = new Scanner(text);
  const key = s.word();
  if (key === null) return fail(`expected a label key, found ${s.found()}`);
  const problem = labelKeyProblem(key);
  if (problem) fail(`label key ${quote(key)} is invalid: ${problem}`);

  let result: LabelConstraint;
  if (s.symbol("==") || s.symbol("=")) {
    result = { key, op: "==", value: labelValue(s, "'='") };
  } else if (s.symbol("!=")) {
    result = { key, op: "!=", value: labelValue(s, "'!='") };
  } else {
    const op = s.word();
    if (op === "is") {
      const next = s.word();
      if (next === null) return fail(`expected a label value or 'not' after 'is', found ${s.found()}`);
      // `k is not` compares with the value "not", as Krake's grammar does; `k is not v` negates.
      if (next === "not" && s.peekWord() !== null)
        result = { key, op: "!=", value: labelValue(s, "'is not'") };
      else {
        const valueProblem = labelValueProblem(next);
        if (valueProblem) fail(`label value ${quote(next)} is invalid: ${valueProblem}`);
        result = { key, op: "==", value: next };
      }
    } else if (op === "in") {
      result = { key, op: "in", values: valueList(s, "'in'") };
    } else if (op === "not") {
      if (s.word() !== "in") return fail("expected 'in (...)' after 'not'");
      result = { key, op: "not in", values: valueList(s, "'not in'") };
    } else {
      const found = op === null ? s.found() : quote(op);
      return fail(`expected an operator (${LABEL_OPERATORS}) after the key ${quote(key)}, found ${found}`);
    }
  }
  expectEnd(s, "the constraint");
  return result;
}

/** controllers.md §2.1: a candidate without the label never matches, whatever the operator. */
export function matchesLabels(c: LabelConstraint, labels: Record<string, string>): boolean {
  if (typeof labels !== "object" || labels === null || !Object.hasOwn(labels, c.key)) return false;
  const actual = labels[c.key];
  switch (c.op) {
    case "==":
      return actual === c.value;
    case "!=":
      return actual !== c.value;
    case "in":
      return c.values.includes(actual);
    case "not in":
      return !c.values.includes(actual);
  }
}

/** Krake's own canonical spelling (its `str()` of a constraint). */
export function formatLabelConstraint(c: LabelConstraint): string {
  switch (c.op) {
    case "==":
      return `${c.key} is ${c.value}`;
    case "!=":
      return `${c.key} is not ${c.value}`;
    case "in":
      return `${c.key} in (${c.values.join(", ")})`;
    case "not in":
      return `${c.key} not in (${c.values.join(", ")})`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Metric constraints

const METRIC_OPERATORS =
  "'==', '=', 'is', '!=', 'is not', '>', 'gt', 'greater than', '>=', '=>', 'gte', 'greater than or equal', " +
  "'<', 'lt', 'lesser than', '<=', '=<', 'lte' or 'lesser than or equal'";

// Longest first, so that '>=' is not read as '>' followed by '='.
const SYMBOLS: [string, MetricOperator][] = [
  [">=", ">="],
  ["=>", ">="],
  ["<=", "<="],
  ["=<", "<="],
  ["==", "=="],
  ["!=", "!="],
  [">", ">"],
  ["<", "<"],
  ["=", "=="],
];

const WORD_OPERATORS: Record<string, MetricOperator> = { gt: ">", gte: ">=", lt: "<", lte: "<=" };

// Krake keeps the number as a label value (so no sign, no leading or trailing '.') and calls Python's
// float() on it when scheduling; this is the common ground of both.
const NUMBER = /^[0-9]+(?:\.[0-9]+)?(?:[eE]-?[0-9]+)?$/;

function metricOperator(s: Scanner, metric: string): MetricOperator {
  for (const [symbol, op] of SYMBOLS) {
    if (!s.symbol(symbol)) continue;
    // Krake reads `=>5` as '=' followed by the value '>5', so only `=> 5` means "greater or equal".
    const next = s.text.charAt(s.pos);
    if ((symbol === "=>" || symbol === "=<") && next !== " " && next !== "") {
      fail(`expected a space after '${symbol}'`);
    }
    return op;
  }
  const save = s.pos;
  const word = s.word();
  if (word === "is") {
    if (s.peekWord() === "not") {
      s.word();
      return "!=";
    }
    return "==";
  }
  if (word !== null && Object.hasOwn(WORD_OPERATORS, word)) return WORD_OPERATORS[word];
  if (word === "greater" || word === "lesser") {
    if (s.word() !== "than") fail(`expected 'than' after '${word}'`);
    if (s.peekWord() === "or") {
      s.word();
      if (s.word() !== "equal") fail(`expected 'equal' after '${word} than or'`);
      return word === "greater" ? ">=" : "<=";
    }
    return word === "greater" ? ">" : "<";
  }
  s.pos = save;
  return fail(
    `expected an operator (${METRIC_OPERATORS}) after the metric ${quote(metric)}, found ${s.found()}`,
  );
}

export function parseMetricConstraint(text: string): MetricConstraint {
  if (typeof text !== "string") return fail("a constraint must be a string");
  const s = new Scanner(text);
  const metric = s.word();
  if (metric === null) return fail(`expected a metric name, found ${s.found()}`);
  if (/[<>]/.test(metric)) {
    fail(
      `put spaces around the operator in ${quote(metric)}: '<' and '>' are otherwise read as part of the metric name`,
    );
  }
  const problem = labelKeyProblem(metric);
  if (problem) fail(`metric name ${quote(metric)} is invalid: ${problem}`);
  const op = metricOperator(s, metric);
  const raw = s.word();
  if (raw === null) return fail(`expected a number after the operator, found ${s.found()}`);
  if (!NUMBER.test(raw) || raw.length > 63) {
    fail(
      `${quote(raw)} is not a valid number: use digits with an optional fraction and exponent and no sign, e.g. 5, 0.25 or 1e-3`,
    );
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) fail(`the number ${quote(raw)} is out of range`);
  expectEnd(s, `the number ${quote(raw)}`);
  return { metric, op, value };
}

/** A missing or unusable metric value never matches (defect X3 in controllers.md). */
export function matchesMetric(c: MetricConstraint, value: number): boolean {
  if (typeof value !== "number" || Number.isNaN(value)) return false;
  switch (c.op) {
    case "==":
      return value === c.value;
    case "!=":
      return value !== c.value;
    case ">":
      return value > c.value;
    case ">=":
      return value >= c.value;
    case "<":
      return value < c.value;
    case "<=":
      return value <= c.value;
  }
}

/** Writes a number the way the parser reads it back: JavaScript's `1e+21` has a sign Krake rejects. */
function formatNumber(n: number): string {
  return String(n).replace("e+", "e");
}

export function formatMetricConstraint(c: MetricConstraint): string {
  return `${c.metric} ${c.op} ${formatNumber(c.value)}`;
}

// ---------------------------------------------------------------------------------------------------------
// List checks for the schemas

function checkList(list: unknown, parse: (s: string) => unknown, head: string): Issue[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) return [{ path: [], message: "Not a valid list." }];
  const issues: Issue[] = [];
  list.forEach((item, i) => {
    try {
      parse(item);
    } catch (err) {
      const why = err instanceof ConstraintSyntaxError ? err.message : "the constraint could not be parsed";
      issues.push({ path: [i], message: `${head}: ${why}` });
    }
  });
  return issues;
}

export function checkLabelConstraints(list: string[] | null): Issue[] {
  return checkList(list, parseLabelConstraint, "Invalid label constraint");
}

export function checkMetricConstraints(list: string[] | null): Issue[] {
  return checkList(list, parseMetricConstraint, "Invalid metric constraint");
}
