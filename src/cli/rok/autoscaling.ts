/**
 * The flags of an autoscaling policy (docs/autoscaling.md), shared by `kube cluster create/update` and the
 * cluster template commands: `--autoscale MIN:MAX`, `--no-autoscale` and the scale-up/scale-down tuning.
 * Values are checked as commander parses them (a bad one is a usage error naming the flag, exit 2); what
 * the API checks (bounds against the TOSCA, shares) it reports itself, naming the field.
 */
import { Command, InvalidArgumentError } from "commander";
import type { LeafFlags } from "./common.js";
import { CliError } from "./errors.js";

export interface WorkerRange {
  min: number;
  max: number;
}

/** `MIN:MAX` → the worker bounds: whole numbers, MIN ≤ MAX, MAX at least 1. */
export function parseRange(value: string): WorkerRange {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError("expected MIN:MAX, two whole numbers such as 1:5");
  const range = { min: Number(m[1]), max: Number(m[2]) };
  if (range.min > range.max)
    throw new InvalidArgumentError(`MIN (${range.min}) must not be above MAX (${range.max})`);
  if (range.max < 1) throw new InvalidArgumentError("MAX must be at least 1");
  return range;
}

/** A commander parser for a whole number of at least `min` (`what` says what it counts, for the message). */
export function wholeNumber(what: string, min = 0): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`expected ${what}: a whole number of at least ${min}`);
    return n;
  };
}

/** A commander parser for a share between 0 and 1. */
export function share(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError("expected a share between 0 and 1, e.g. 0.5");
  return n;
}

/** The tuning flags: attribute name in the parsed flags → the flag as typed. */
const TUNING: [keyof LeafFlags, string][] = [
  ["scaleUpCooldown", "--scale-up-cooldown"],
  ["maxConcurrentBoots", "--max-concurrent-boots"],
  ["scaleDownIdle", "--scale-down-idle"],
  ["scaleDownUtilization", "--scale-down-utilization"],
  ["scaleDownCooldown", "--scale-down-cooldown"],
  ["scaleDown", "--scale-down/--no-scale-down"],
];

const POOL: [keyof LeafFlags, string][] = [
  ["autoscaleInput", "--autoscale-input"],
  ["autoscaleSystem", "--autoscale-system"],
];

export interface AutoscalingFlagsOptions {
  /** `update` offers `--no-autoscale`. */
  update: boolean;
  /** Clusters name their worker input and node (`--autoscale-input/-system`); templates take spec.workers'. */
  pool: boolean;
}

export function autoscalingOptions(cmd: Command, opts: AutoscalingFlagsOptions): Command {
  cmd.option(
    "--autoscale <min:max>",
    opts.update
      ? "let the autoscaler keep MIN to MAX workers: sets the bounds of the policy, or adds one"
      : "let the autoscaler keep MIN to MAX workers (adds an autoscaling policy)",
    parseRange,
  );
  if (opts.update)
    cmd.option(
      "--no-autoscale",
      "remove the autoscaling policy: the TOSCA's worker input sets the worker count again",
    );
  if (opts.pool)
    cmd
      .option("--autoscale-input <name>", "TOSCA input holding the worker count (default wn_num)")
      .option("--autoscale-system <name>", "TOSCA Compute node of the workers (default wn)");
  return cmd
    .option(
      "--scale-up-cooldown <seconds>",
      "seconds after a scale-up before the next (default 60)",
      wholeNumber("seconds"),
    )
    .option(
      "--max-concurrent-boots <n>",
      "workers booting at once, at most (default 2)",
      wholeNumber("a number of workers", 1),
    )
    .option(
      "--scale-down-idle <seconds>",
      "seconds a node must stay idle before it is removed (default 600)",
      wholeNumber("seconds"),
    )
    .option(
      "--scale-down-utilization <share>",
      "a node is idle while its requested cpu and memory are both below this share of its allocatable (default 0.5)",
      share,
    )
    .option(
      "--scale-down-cooldown <seconds>",
      "seconds after a scale change before a scale-down (default 300)",
      wholeNumber("seconds"),
    )
    .option("--scale-down", "remove idle workers (default)")
    .option("--no-scale-down", "never remove workers: scale up only");
}

/** The autoscaling flags given, as typed: for messages. */
function givenTuning(flags: LeafFlags, withPool: boolean): string[] {
  return [...TUNING, ...(withPool ? POOL : [])].filter(([k]) => flags[k] !== undefined).map(([, f]) => f);
}

/** Contradictions among the flags alone, checked before anything is read or sent (usage errors, exit 2). */
export function checkAutoscalingFlags(flags: LeafFlags): void {
  if (flags.autoscale === false) {
    const also = givenTuning(flags, true);
    if (also.length)
      throw new CliError(
        `--no-autoscale removes the policy: it cannot be combined with ${also.join(", ")}`,
        2,
      );
  }
}

/** Whether any autoscaling flag was given. */
export function hasAutoscalingFlags(flags: LeafFlags): boolean {
  return flags.autoscale !== undefined || givenTuning(flags, true).length > 0;
}

export type Policy = Record<string, any>;

/**
 * The autoscaling policy after the flags: `undefined` when no flag touches it, `null` for `--no-autoscale`,
 * else a copy of `current` (or a new policy, with `--autoscale`) with the given fields set. Fields not given
 * are left out of a new policy, so the API fills in its defaults. Tuning flags without a policy to tune are
 * refused, naming `target`: a usage error when `creating`, else (the stored object has none) exit 1.
 */
export function applyAutoscaling(
  current: Policy | null,
  flags: LeafFlags,
  target: { name: string; creating: boolean },
): Policy | null | undefined {
  checkAutoscalingFlags(flags);
  if (flags.autoscale === false) return null;
  const tuning = givenTuning(flags, true);
  const range: WorkerRange | undefined = flags.autoscale;
  if (range === undefined && tuning.length === 0) return undefined;
  if (!current && range === undefined)
    throw new CliError(
      `${tuning.join(", ")}: ${target.name} has no autoscaling policy to tune; add --autoscale MIN:MAX`,
      target.creating ? 2 : 1,
    );
  const policy: Policy = current ? structuredClone(current) : { workers: {} };
  policy.workers ??= {};
  if (range) Object.assign(policy.workers, range);
  if (flags.autoscaleInput !== undefined) policy.workers.input = flags.autoscaleInput;
  if (flags.autoscaleSystem !== undefined) policy.workers.system = flags.autoscaleSystem;
  const set = (section: "scale_up" | "scale_down", key: string, value: unknown) => {
    if (value === undefined) return;
    policy[section] = { ...(policy[section] ?? {}), [key]: value };
  };
  set("scale_up", "cooldown", flags.scaleUpCooldown);
  set("scale_up", "max_concurrent", flags.maxConcurrentBoots);
  set("scale_down", "idle_time", flags.scaleDownIdle);
  set("scale_down", "utilization_below", flags.scaleDownUtilization);
  set("scale_down", "cooldown", flags.scaleDownCooldown);
  set("scale_down", "enabled", flags.scaleDown);
  return policy;
}
