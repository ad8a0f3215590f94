/**
 * The scheduler's decisions as pure functions (controllers.md §2.1, §2.4–2.6, §2.8): which candidates match
 * a set of constraints — and, for those that do not, which constraint excluded them — how a candidate
 * scores, and which one wins. No I/O here, so every rule is unit-tested and benchmarked on its own.
 */
import {
  matchesLabels,
  matchesMetric,
  parseLabelConstraint,
  parseMetricConstraint,
  type LabelConstraint,
  type MetricConstraint,
} from "../../resources/validators/constraints.js";

export interface MetricRef {
  name: string;
  weight: number;
  namespaced?: boolean;
}

/** A collected, normalised metric of a candidate. */
export interface MetricValue {
  name: string;
  weight: number;
  /** Normalised into [0, 1]. */
  value: number;
}

export interface Candidate {
  /** Stable identity for logs and reasons, e.g. `Cluster team-a/c1`. */
  id: string;
  kind: "cluster" | "cloud";
  labels: Record<string, string>;
  customResources?: string[];
  /** Null: the candidate has no metrics (or they could not be collected). */
  metrics: MetricValue[] | null;
}

export interface Constraints {
  labels?: string[] | null;
  customResources?: string[] | null;
  metrics?: string[] | null;
}

export interface ParsedConstraints {
  labels: { text: string; c: LabelConstraint }[];
  customResources: string[];
  metrics: { text: string; c: MetricConstraint }[];
}

/** Parsed once per decision; stored constraints were validated at admission, so parsing cannot fail here. */
export function parseConstraints(c: Constraints): ParsedConstraints {
  return {
    labels: (c.labels ?? []).map((text) => ({ text, c: parseLabelConstraint(text) })),
    customResources: c.customResources ?? [],
    metrics: (c.metrics ?? []).map((text) => ({ text, c: parseMetricConstraint(text) })),
  };
}

/** Whether the candidate satisfies every constraint; the allocation-free twin of mismatch(). */
export function matches(candidate: Candidate, constraints: ParsedConstraints): boolean {
  for (const { c } of constraints.labels) if (!matchesLabels(c, candidate.labels)) return false;
  for (const crd of constraints.customResources)
    if (!(candidate.customResources ?? []).includes(crd)) return false;
  for (const { c } of constraints.metrics) {
    const m = candidate.metrics?.find((v) => v.name === c.metric);
    if (!m || !matchesMetric(c, m.value)) return false;
  }
  return true;
}

/** null when the candidate satisfies every constraint, else why not (the first constraint that failed). */
export function mismatch(candidate: Candidate, constraints: ParsedConstraints): string | null {
  for (const { text, c } of constraints.labels) {
    if (!matchesLabels(c, candidate.labels)) {
      const actual = Object.hasOwn(candidate.labels, c.key) ? `'${candidate.labels[c.key]}'` : "missing";
      return `label constraint '${text}' not met (${c.key}: ${actual})`;
    }
  }
  for (const crd of constraints.customResources) {
    if (!(candidate.customResources ?? []).includes(crd)) return `custom resource '${crd}' not offered`;
  }
  for (const { text, c } of constraints.metrics) {
    // The normalised value is compared (Krake compared weight × value: defect X2); a missing metric never
    // matches (Krake crashed: defect X3).
    const m = candidate.metrics?.find((v) => v.name === c.metric);
    if (!m) return `metric constraint '${text}' not met (metric ${c.metric} missing)`;
    if (!matchesMetric(c, m.value))
      return `metric constraint '${text}' not met (${c.metric} = ${round(m.value)})`;
  }
  return null;
}

/**
 * Cluster score (§2.5): `(Σ v·w + s_v·s_w) / (Σ w + s_w)`, where `s_w` is the stickiness for the cluster
 * the app is scheduled to now. Without metrics only stickiness counts. A zero weight sum scores 0 instead
 * of dividing by zero (defect X11).
 */
export function clusterScore(metrics: MetricValue[] | null, isCurrent: boolean, stickiness: number): number {
  const sticky = isCurrent ? stickiness : 0;
  if (!metrics || metrics.length === 0) return sticky;
  const weights = metrics.reduce((a, m) => a + m.weight, 0) + sticky;
  if (weights === 0) return 0;
  return (metrics.reduce((a, m) => a + m.value * m.weight, 0) + sticky) / weights;
}

/** Cloud score: the weighted mean of its metrics, 0 without metrics. */
export function cloudScore(metrics: MetricValue[] | null): number {
  if (!metrics || metrics.length === 0) return 0;
  const weights = metrics.reduce((a, m) => a + m.weight, 0);
  return weights === 0 ? 0 : metrics.reduce((a, m) => a + m.value * m.weight, 0) / weights;
}

export interface Scored<T> {
  candidate: T;
  score: number;
}

/**
 * The best-scored entry; among equal maxima clusters beat clouds and the choice is random (§2.4 step 8).
 * Scores equal to 1e-12 are ties, so floating-point noise does not decide placement.
 */
export function pickBest<T extends { kind: "cluster" | "cloud" }>(
  scored: Scored<T>[],
  random: () => number = Math.random,
): Scored<T> | null {
  if (scored.length === 0) return null;
  let max = -Infinity;
  for (const s of scored) if (s.score > max) max = s.score;
  let best = scored.filter((s) => max - s.score <= 1e-12);
  if (best.some((s) => s.candidate.kind === "cluster"))
    best = best.filter((s) => s.candidate.kind === "cluster");
  return best[Math.floor(random() * best.length)] ?? best[0];
}

export interface Decision<T extends Candidate> {
  chosen: Scored<T> | null;
  /** Every candidate's score, for the decision log. */
  scores: Scored<T>[];
  /** Why each excluded candidate was excluded. */
  excluded: { id: string; reason: string }[];
  /** The current placement was kept because it was chosen less than reschedule_after ago. */
  kept: boolean;
}

export interface ClusterChoiceInput<T extends Candidate> {
  candidates: T[];
  constraints: ParsedConstraints;
  /** The id of the candidate the app is scheduled to now, if any. */
  currentId: string | null;
  /** The app was scheduled less than reschedule_after ago (the recently-scheduled guard, §2.4 step 5). */
  recentlyScheduled: boolean;
  stickiness: number;
  random?: () => number;
  /**
   * Say why each excluded candidate was excluded. Off, `excluded` holds only ids (reason ""): the reasons
   * cost a string per candidate and are only needed when nothing fits.
   */
  explain?: boolean;
  /**
   * The capacity filter, after the constraints: why the candidate has no room for the app, or null (it has,
   * or its capacity is unknown). Absent: no capacity filter.
   */
  room?: (candidate: T) => string | null;
}

/**
 * Application → Cluster (§2.4): filter by constraints, then by room, then the guard, then rank clusters with
 * metrics first.
 */
export function chooseCluster<T extends Candidate>(input: ClusterChoiceInput<T>): Decision<T> {
  const excluded: { id: string; reason: string }[] = [];
  const matching: T[] = [];
  const explain = input.explain !== false;
  for (const c of input.candidates) {
    if (!explain) {
      if (matches(c, input.constraints) && !input.room?.(c)) matching.push(c);
      else excluded.push({ id: c.id, reason: "" });
      continue;
    }
    const why = mismatch(c, input.constraints) ?? input.room?.(c) ?? null;
    if (why) excluded.push({ id: c.id, reason: why });
    else matching.push(c);
  }
  if (matching.length === 0) return { chosen: null, scores: [], excluded, kept: false };
  const current = matching.find((c) => c.id === input.currentId);
  if (current && input.recentlyScheduled) {
    return { chosen: { candidate: current, score: NaN }, scores: [], excluded, kept: true };
  }
  // Clusters with metrics are compared among themselves; those without only when none has metrics.
  const withMetrics = matching.filter((c) => c.metrics && c.metrics.length > 0);
  const pool = withMetrics.length > 0 ? withMetrics : matching;
  const scores = pool.map((c) => ({
    candidate: c,
    score: clusterScore(
      withMetrics.length > 0 ? c.metrics : null,
      c.id === input.currentId,
      input.stickiness,
    ),
  }));
  return { chosen: pickBest(scores, input.random), scores, excluded, kept: false };
}

/** Cluster → Cloud (§2.8): filter, then rank by the cloud formula (all 0 when no cloud has metrics). */
export function chooseCloud<T extends Candidate>(
  candidates: T[],
  constraints: ParsedConstraints,
  random?: () => number,
): Decision<T> {
  const excluded: { id: string; reason: string }[] = [];
  const matching: T[] = [];
  for (const c of candidates) {
    const why = mismatch(c, constraints);
    if (why) excluded.push({ id: c.id, reason: why });
    else matching.push(c);
  }
  const scores = matching.map((c) => ({ candidate: c, score: cloudScore(c.metrics) }));
  return { chosen: pickBest(scores, random), scores, excluded, kept: false };
}

/** One line an operator can read: why nothing fitted. */
export function explainNoFit(excluded: { id: string; reason: string }[], what: string): string {
  if (excluded.length === 0) return `no ${what} to choose from`;
  const shown = excluded.slice(0, 10).map((e) => `${e.id}: ${e.reason}`);
  const more = excluded.length > 10 ? `; and ${excluded.length - 10} more` : "";
  return `no ${what} fits: ${shown.join("; ")}${more}`;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
