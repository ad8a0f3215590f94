import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ConstraintSyntaxError,
  checkLabelConstraints,
  checkMetricConstraints,
  formatLabelConstraint,
  formatMetricConstraint,
  matchesLabels,
  matchesMetric,
  parseLabelConstraint,
  parseMetricConstraint,
  type LabelConstraint,
  type MetricConstraint,
} from "./constraints.js";

function syntaxError(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConstraintSyntaxError, String(err));
    assert.match(err.message, why);
    return true;
  });
}

describe("parseLabelConstraint: accepted spellings", () => {
  const cases: [string, LabelConstraint][] = [
    ["location is DE", { key: "location", op: "==", value: "DE" }],
    ["location=DE", { key: "location", op: "==", value: "DE" }],
    ["location = DE", { key: "location", op: "==", value: "DE" }],
    ["location == DE", { key: "location", op: "==", value: "DE" }],
    ["location==DE", { key: "location", op: "==", value: "DE" }],
    ["location != DE", { key: "location", op: "!=", value: "DE" }],
    ["location!=DE", { key: "location", op: "!=", value: "DE" }],
    ["location is not DE", { key: "location", op: "!=", value: "DE" }],
    ["location in (DE,)", { key: "location", op: "in", values: ["DE"] }],
    ["location in (DE, UK)", { key: "location", op: "in", values: ["DE", "UK"] }],
    ["location in(DE,UK)", { key: "location", op: "in", values: ["DE", "UK"] }],
    ["location in ( DE , UK , )", { key: "location", op: "in", values: ["DE", "UK"] }],
    ["location in (DE,,)", { key: "location", op: "in", values: ["DE"] }],
    ["location in (DE, , )", { key: "location", op: "in", values: ["DE"] }],
    ["location not in (DE, UK)", { key: "location", op: "not in", values: ["DE", "UK"] }],
    ["location not in(DE)", { key: "location", op: "not in", values: ["DE"] }],
    ["  location   is   DE  ", { key: "location", op: "==", value: "DE" }],
    ["k8s.io/zone is eu-1", { key: "k8s.io/zone", op: "==", value: "eu-1" }],
    // Krake's grammar reads `is not` at the end as "equal to the value 'not'".
    ["location is not", { key: "location", op: "==", value: "not" }],
    ["location is not not", { key: "location", op: "!=", value: "not" }],
    ["is is is", { key: "is", op: "==", value: "is" }],
    ["in in (in)", { key: "in", op: "in", values: ["in"] }],
    ["not not in (a)", { key: "not", op: "not in", values: ["a"] }],
    ["location in (DE, DE)", { key: "location", op: "in", values: ["DE", "DE"] }],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(parseLabelConstraint(text), expected));
  }
});

describe("parseLabelConstraint: rejected input, with the reason", () => {
  const cases: [string, RegExp][] = [
    ["", /^expected a label key, found the end of the constraint$/],
    ["   ", /expected a label key/],
    ["location", /expected an operator .* after the key 'location', found the end/],
    ["location DE", /expected an operator .* found 'DE'/],
    ["location not DE", /^expected 'in \(\.\.\.\)' after 'not'$/],
    ["location not (DE)", /^expected 'in \(\.\.\.\)' after 'not'$/],
    ["location in DE", /expected '\(' after 'in', found 'DE'/],
    ["location in ()", /expected a label value after '\(', found '\)'/],
    ["location in (DE UK)", /expected ',' or '\)' after 'DE', found 'UK'/],
    ["location in (DE", /expected ',' or '\)' after 'DE', found the end/],
    ["location in (DE,,UK)", /expected '\)' after the trailing commas, found 'UK'/],
    ["location in (,DE)", /expected a label value after '\('/],
    ["location in (DE) x", /unexpected 'x' after the constraint/],
    ["location is", /expected a label value or 'not' after 'is'/],
    ["location =", /expected a label value after '='/],
    ["location = DE UK", /unexpected 'UK' after the constraint/],
    ["location === DE", /expected a label value after '=', found '='/],
    ["location ! = DE", /expected an operator/],
    ["location is not DE UK", /unexpected 'UK'/],
    ["loc$ = DE", /label key 'loc\$' is invalid: it contains the invalid character '\$'/],
    ["location = D$E", /label value 'D\$E' is invalid/],
    ["location in (DE, -x)", /label value '-x' is invalid: it must begin and end/],
    [`location = ${"v".repeat(64)}`, /64 characters long/],
    ["location = (DE)", /expected a label value after '=', found '\('/],
    ["location\t= DE", /label key 'location\\t' is invalid/],
    ["location isnot DE", /expected an operator .* found 'isnot'/],
    ["location notin (DE)", /found 'notin'/],
  ];
  for (const [text, why] of cases) {
    it(JSON.stringify(text.length > 40 ? `${text.slice(0, 30)}…` : text), () =>
      syntaxError(() => parseLabelConstraint(text), why),
    );
  }

  it("rejects a non-string", () => syntaxError(() => parseLabelConstraint(5 as any), /must be a string/));
});

describe("matchesLabels", () => {
  const labels = { location: "DE", tier: "gold" };
  const m = (text: string, l: Record<string, string> = labels) =>
    matchesLabels(parseLabelConstraint(text), l);

  it("equality and inequality", () => {
    assert.equal(m("location is DE"), true);
    assert.equal(m("location = UK"), false);
    assert.equal(m("location != UK"), true);
    assert.equal(m("location is not DE"), false);
  });

  it("set membership", () => {
    assert.equal(m("location in (UK, DE)"), true);
    assert.equal(m("location in (UK, FR)"), false);
    assert.equal(m("location not in (UK, FR)"), true);
    assert.equal(m("location not in (DE,)"), false);
  });

  it("is false for every operator when the label is missing (controllers.md §2.1)", () => {
    for (const text of ["zone is a", "zone != a", "zone in (a)", "zone not in (a)"])
      assert.equal(m(text), false, text);
    for (const text of ["zone is a", "zone != a", "zone not in (a)"]) assert.equal(m(text, {}), false, text);
  });

  it("looks only at own labels", () => {
    assert.equal(m("constructor != x", {}), false);
    assert.equal(m("toString not in (x)", {}), false);
    assert.equal(matchesLabels(parseLabelConstraint("a = b"), null as any), false);
  });
});

describe("parseMetricConstraint", () => {
  const cases: [string, MetricConstraint][] = [
    ["load == 5", { metric: "load", op: "==", value: 5 }],
    ["load = 5", { metric: "load", op: "==", value: 5 }],
    ["load=5", { metric: "load", op: "==", value: 5 }],
    ["load is 5", { metric: "load", op: "==", value: 5 }],
    ["load != 5", { metric: "load", op: "!=", value: 5 }],
    ["load is not 5", { metric: "load", op: "!=", value: 5 }],
    ["load > 0.5", { metric: "load", op: ">", value: 0.5 }],
    ["load >0.5", { metric: "load", op: ">", value: 0.5 }],
    ["load gt 0.5", { metric: "load", op: ">", value: 0.5 }],
    ["load greater than 0.5", { metric: "load", op: ">", value: 0.5 }],
    ["load >= 1e3", { metric: "load", op: ">=", value: 1000 }],
    ["load >=1e3", { metric: "load", op: ">=", value: 1000 }],
    ["load => 1E3", { metric: "load", op: ">=", value: 1000 }],
    ["load gte 1", { metric: "load", op: ">=", value: 1 }],
    ["load greater than or equal 1", { metric: "load", op: ">=", value: 1 }],
    ["load < 2", { metric: "load", op: "<", value: 2 }],
    ["load <2", { metric: "load", op: "<", value: 2 }],
    ["load lt 2", { metric: "load", op: "<", value: 2 }],
    ["load lesser than 2", { metric: "load", op: "<", value: 2 }],
    ["load <= 1e-3", { metric: "load", op: "<=", value: 0.001 }],
    ["load =< 3", { metric: "load", op: "<=", value: 3 }],
    ["load lte 3", { metric: "load", op: "<=", value: 3 }],
    ["load lesser than or equal 3", { metric: "load", op: "<=", value: 3 }],
    ["  electricity_cost_1   <=   0.9  ", { metric: "electricity_cost_1", op: "<=", value: 0.9 }],
    ["heat-demand.x/y >= 007", { metric: "heat-demand.x/y", op: ">=", value: 7 }],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(parseMetricConstraint(text), expected));
  }

  const rejected: [string, RegExp][] = [
    ["", /expected a metric name/],
    ["load", /expected an operator .* after the metric 'load', found the end/],
    ["load>5", /put spaces around the operator in 'load>5'/],
    ["load<=5", /put spaces around the operator/],
    ["load =>5", /^expected a space after '=>'$/],
    ["load =<5", /^expected a space after '=<'$/],
    ["load > -1", /'-1' is not a valid number/],
    ["load > +1", /'\+1' is not a valid number/],
    ["load > .5", /'\.5' is not a valid number/],
    ["load > 5.", /'5\.' is not a valid number/],
    ["load > nan", /'nan' is not a valid number/],
    ["load > inf", /'inf' is not a valid number/],
    ["load > 1_000", /'1_000' is not a valid number/],
    ["load > 0x10", /'0x10' is not a valid number/],
    ["load > 1e+3", /'1e\+3' is not a valid number/],
    ["load > 1e999", /out of range/],
    [`load > ${"1".repeat(64)}`, /is not a valid number/],
    ["load >", /expected a number after the operator, found the end/],
    ["load > 5 6", /unexpected '6' after the number '5'/],
    ["load greater 5", /expected 'than' after 'greater'/],
    ["load lesser than or 5", /expected 'equal' after 'lesser than or'/],
    ["load is greater than 5", /'greater' is not a valid number/],
    ["load equals 5", /expected an operator .* found 'equals'/],
    ["load gt5", /found 'gt5'/],
    ["lo$d > 5", /metric name 'lo\$d' is invalid/],
    ["load > = 5", /expected a number after the operator, found '='/],
  ];
  for (const [text, why] of rejected) {
    it(`rejects ${JSON.stringify(text.length > 40 ? `${text.slice(0, 30)}…` : text)}`, () =>
      syntaxError(() => parseMetricConstraint(text), why));
  }
});

describe("matchesMetric", () => {
  const m = (text: string, value: number) => matchesMetric(parseMetricConstraint(text), value);
  it("compares with every operator", () => {
    assert.equal(m("x == 0.5", 0.5), true);
    assert.equal(m("x == 0.5", 0.6), false);
    assert.equal(m("x != 0.5", 0.6), true);
    assert.equal(m("x != 0.5", 0.5), false);
    assert.equal(m("x > 0.5", 0.6), true);
    assert.equal(m("x > 0.5", 0.5), false);
    assert.equal(m("x >= 0.5", 0.5), true);
    assert.equal(m("x >= 0.5", 0.4), false);
    assert.equal(m("x < 0.5", 0.4), true);
    assert.equal(m("x < 0.5", 0.5), false);
    assert.equal(m("x <= 0.5", 0.5), true);
    assert.equal(m("x <= 0.5", 0.6), false);
  });
  it("never matches an unusable value", () => {
    for (const op of ["==", "!=", ">", ">=", "<", "<="]) {
      assert.equal(m(`x ${op} 1`, NaN), false, op);
      assert.equal(matchesMetric(parseMetricConstraint(`x ${op} 1`), undefined as any), false, op);
    }
  });
});

describe("formatting", () => {
  it("writes Krake's canonical label forms", () => {
    assert.equal(formatLabelConstraint(parseLabelConstraint("location=DE")), "location is DE");
    assert.equal(formatLabelConstraint(parseLabelConstraint("location!=DE")), "location is not DE");
    assert.equal(formatLabelConstraint(parseLabelConstraint("location in(DE,UK,,)")), "location in (DE, UK)");
    assert.equal(formatLabelConstraint(parseLabelConstraint("location not in (DE)")), "location not in (DE)");
  });
  it("writes symbolic metric operators and sign-free exponents", () => {
    assert.equal(formatMetricConstraint(parseMetricConstraint("x greater than or equal 1")), "x >= 1");
    assert.equal(formatMetricConstraint({ metric: "x", op: "<", value: 1e21 }), "x < 1e21");
    assert.equal(formatMetricConstraint({ metric: "x", op: "<", value: 1e-7 }), "x < 1e-7");
    assert.equal(formatMetricConstraint({ metric: "x", op: "!=", value: 0.1 }), "x != 0.1");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties

// fast-check builds records without a prototype; the parser returns ordinary objects.
const plain = <T extends object>(r: T): T => ({ ...r });

const alnum = fc.constantFrom(..."abcxyzABZ019_".split(""));
const inner = fc.constantFrom(..."ab9_-.".split(""));
const labelPart = (max: number) =>
  fc
    .tuple(alnum, fc.array(inner, { maxLength: Math.min(max - 2, 12) }), alnum, fc.boolean())
    .map(([a, mid, z, single]) => (single ? a : `${a}${mid.join("")}${z}`));
const labelValue = labelPart(63);
const labelKey = fc
  .tuple(fc.option(labelPart(253), { nil: undefined }), labelPart(63))
  .map(([prefix, name]) => (prefix === undefined ? name : `${prefix}/${name}`));

const labelAst: fc.Arbitrary<LabelConstraint> = fc.oneof(
  fc
    .record({ key: labelKey, op: fc.constantFrom("==" as const, "!=" as const), value: labelValue })
    .map(plain),
  fc
    .record({
      key: labelKey,
      op: fc.constantFrom("in" as const, "not in" as const),
      values: fc.array(labelValue, { minLength: 1, maxLength: 5 }),
    })
    .map(plain),
);

const metricAst: fc.Arbitrary<MetricConstraint> = fc
  .record({
    metric: labelKey,
    op: fc.constantFrom(
      "==" as const,
      "!=" as const,
      ">" as const,
      ">=" as const,
      "<" as const,
      "<=" as const,
    ),
    value: fc.oneof(
      fc.nat(),
      fc
        .double({ min: 0, max: 1e300, noNaN: true, noDefaultInfinity: true })
        .filter((n) => !Object.is(n, -0)),
    ),
  })
  .map(plain);

// Every way of writing an AST that the grammar allows, to feed the parser more than canonical text.
const space = fc.constantFrom("", " ", "  ");
const space1 = fc.constantFrom(" ", "  ");
const labelText = labelAst.chain((c): fc.Arbitrary<{ ast: LabelConstraint; text: string }> => {
  if ("value" in c) {
    const value = c.value;
    const ops = c.op === "==" ? ["=", "==", "is"] : ["!=", "is not"];
    return fc.tuple(space, fc.constantFrom(...ops), space, space1, space).map(([a, op, sp, sp1, e]) => {
      // Words need a space on both sides, symbols do not.
      const gap = /^[a-z]/.test(op) ? sp1 : sp;
      return { ast: c, text: `${a}${c.key}${gap}${op}${gap}${value}${e}` };
    });
  }
  const { key, op, values } = c;
  return fc
    .tuple(
      space,
      space1,
      fc.constantFrom("", ",", ", ,", ",,"),
      fc.array(space, { minLength: 6, maxLength: 6 }),
    )
    .map(([a, b, trail, sp]) => ({
      ast: c,
      text: `${a}${key}${b}${op}${sp[0]}(${sp[1]}${values.join(`${sp[2]},${sp[3]}`)}${sp[4]}${trail})${sp[5]}`,
    }));
});

function expectedMatch(c: LabelConstraint, labels: Record<string, string>): boolean {
  if (!Object.hasOwn(labels, c.key)) return false;
  const v = labels[c.key];
  switch (c.op) {
    case "==":
      return v === c.value;
    case "!=":
      return v !== c.value;
    case "in":
      return c.values.includes(v);
    case "not in":
      return !c.values.includes(v);
  }
}

describe("properties", () => {
  it("parse(format(ast)) returns the AST, for labels", () => {
    fc.assert(
      fc.property(labelAst, (c) => assert.deepEqual(parseLabelConstraint(formatLabelConstraint(c)), c)),
      {
        numRuns: 500,
      },
    );
  });

  it("parse(format(ast)) returns the AST, for metrics", () => {
    fc.assert(
      fc.property(metricAst, (c) => assert.deepEqual(parseMetricConstraint(formatMetricConstraint(c)), c)),
      {
        numRuns: 500,
      },
    );
  });

  it("format(parse(text)) parses to the same AST as text, for any spelling", () => {
    fc.assert(
      fc.property(labelText, ({ ast, text }) => {
        const parsed = parseLabelConstraint(text);
        assert.deepEqual(parsed, ast);
        assert.deepEqual(parseLabelConstraint(formatLabelConstraint(parsed)), parsed);
      }),
      { numRuns: 500 },
    );
  });

  it("the parsers either return an AST or throw ConstraintSyntaxError, on any string", () => {
    const tokens = fc.constantFrom(
      "a",
      "b/c",
      "is",
      "not",
      "in",
      "(",
      ")",
      ",",
      "=",
      "!",
      "<",
      ">",
      "5",
      " ",
      "\t",
      "é",
      "-",
    );
    const text = fc.oneof(
      fc.string(),
      fc.array(tokens, { maxLength: 10 }).map((t) => t.join("")),
    );
    fc.assert(
      fc.property(text, (s) => {
        for (const parse of [parseLabelConstraint, parseMetricConstraint]) {
          try {
            const ast = parse(s);
            assert.deepEqual(parse(formatAny(ast)), ast);
          } catch (err) {
            assert.ok(err instanceof ConstraintSyntaxError, String(err));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("matchesLabels agrees with the table of controllers.md §2.1", () => {
    fc.assert(
      fc.property(labelAst, fc.dictionary(labelKey, labelValue, { maxKeys: 3 }), (c, labels) => {
        const expected = expectedMatch(c, labels);
        assert.equal(matchesLabels(c, labels), expected);
      }),
    );
  });
});

function formatAny(ast: LabelConstraint | MetricConstraint): string {
  return "metric" in ast ? formatMetricConstraint(ast) : formatLabelConstraint(ast);
}

describe("checkLabelConstraints / checkMetricConstraints", () => {
  it("accept null and valid lists", () => {
    assert.deepEqual(checkLabelConstraints(null), []);
    assert.deepEqual(checkLabelConstraints([]), []);
    assert.deepEqual(checkLabelConstraints(["location is DE", "tier in (gold,)"]), []);
    assert.deepEqual(checkMetricConstraints(null), []);
    assert.deepEqual(checkMetricConstraints(["load < 0.5"]), []);
  });

  it("key issues by list index with Krake's head and the reason", () => {
    assert.deepEqual(checkLabelConstraints(["location is DE", "location not DE"]), [
      { path: [1], message: "Invalid label constraint: expected 'in (...)' after 'not'" },
    ]);
    const issues = checkMetricConstraints(["load", "load < 1", "load =>1"]);
    assert.deepEqual(
      issues.map((i) => i.path),
      [[0], [2]],
    );
    assert.match(issues[0].message, /^Invalid metric constraint: expected an operator/);
    assert.equal(issues[1].message, "Invalid metric constraint: expected a space after '=>'");
  });

  it("report non-string items and a non-list without throwing", () => {
    assert.deepEqual(checkLabelConstraints([1, null] as any), [
      { path: [0], message: "Invalid label constraint: a constraint must be a string" },
      { path: [1], message: "Invalid label constraint: a constraint must be a string" },
    ]);
    assert.deepEqual(checkMetricConstraints("load < 1" as any), [{ path: [], message: "Not a valid list." }]);
  });

  it("stay fast and short on huge input", () => {
    const huge = `k in (${Array.from({ length: 50_000 }, (_, i) => `v${i}`).join(", ")})`;
    const started = Date.now();
    assert.deepEqual(checkLabelConstraints([huge]), []);
    const bad = checkLabelConstraints([`${"k".repeat(1_000_000)} = v`]);
    assert.equal(bad.length, 1);
    assert.ok(bad[0].message.length < 400);
    assert.ok(Date.now() - started < 2000);
  });
});
