/**
 * Goal 1 of docs/autoscaling.md, the pure parts: what a cluster made from a template looks like, how big it
 * is predicted to be, which template wins, and when an emptied auto-created cluster is retired. The scheduler
 * (scheduler.ts) does the I/O around these.
 */
import { systemShape, withInputs, workerCount } from "../../kube/cluster-tosca.js";
import type { Resource } from "../../resources/kind.js";
import { templateWorkerShape } from "../../resources/validators/autoscaling.js";
import type { WorkerShape } from "./room.js";

export type TemplateKind = "ClusterTemplate" | "GlobalClusterTemplate";

export interface TemplateRef {
  api: "kubernetes";
  kind: TemplateKind;
  name: string;
  namespace: string | null;
}

export function templateRefOf(t: Resource): TemplateRef {
  return {
    api: "kubernetes",
    kind: t.kind as TemplateKind,
    name: t.metadata.name,
    namespace: t.kind === "ClusterTemplate" ? (t.metadata.namespace ?? null) : null,
  };
}

export function sameTemplate(a: Partial<TemplateRef> | null | undefined, b: TemplateRef): boolean {
  return Boolean(
    a &&
    a.kind === b.kind &&
    a.name === b.name &&
    (b.kind === "GlobalClusterTemplate" || (a.namespace ?? null) === b.namespace),
  );
}

/** `ClusterTemplate 'small'`, for messages. */
export function templateTitle(ref: Pick<TemplateRef, "kind" | "name">): string {
  return `${ref.kind} '${ref.name}'`;
}

/** The `template` label of the scheduler's metrics: the name, `namespace/name` for a namespaced template. */
export function templateLabel(ref: TemplateRef): string {
  return ref.kind === "ClusterTemplate" ? `${ref.namespace}/${ref.name}` : ref.name;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
/** Longest resource name (api.md §6): 255 characters. */
const MAX_NAME = 255;

/** `<template>-<5 random lowercase letters>`, the template part shortened if the whole would be too long. */
export function clusterName(template: string, random: () => number = Math.random): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += LETTERS[Math.floor(random() * LETTERS.length) % LETTERS.length];
  return `${template.slice(0, MAX_NAME - 6).replace(/[-.:]+$/, "")}-${suffix}`;
}

/**
 * The Cluster a template makes: its labels, metrics, inheritance flags, cloud constraints and autoscaling
 * policy, and its TOSCA with the template's inputs and `workers.initial` workers written into the defaults.
 * It is bound to its cloud by the scheduler right after it is created (owners: that cloud, by the binding).
 */
export function clusterFromTemplate(template: Resource, name: string): Resource {
  const t = template.spec;
  const inputs = { ...(t.inputs ?? {}), [t.workers.input]: t.workers.initial };
  return {
    api: "kubernetes",
    kind: "Cluster",
    metadata: {
      name,
      labels: { ...(t.labels ?? {}) },
      inherit_labels: t.inherit_labels !== false,
    } as Resource["metadata"],
    spec: {
      tosca: withInputs(t.tosca ?? {}, inputs),
      constraints: {
        cloud: {
          labels: t.constraints?.cloud?.labels ?? null,
          metrics: t.constraints?.cloud?.metrics ?? null,
        },
      },
      metrics: structuredClone(t.metrics ?? []),
      inherit_metrics: t.inherit_metrics !== false,
      auto_generated: true,
      template: templateRefOf(template),
      autoscaling: t.autoscaling ? structuredClone(t.autoscaling) : null,
    },
  };
}

/** The allocatable of one worker of a template (explicit `workers.cpu/memory`, else the TOSCA's VM size). */
export function templateShape(template: Resource): WorkerShape | null {
  const s = templateWorkerShape(template.spec);
  return s ? { cpu_millis: s.cpuMillis, memory_bytes: s.memoryBytes, pods: s.pods } : null;
}

/** The workers a new cluster of the template is predicted with: `workers.initial` (`.max` if it scales). */
export function templateWorkers(template: Resource): number {
  return template.spec.autoscaling ? template.spec.autoscaling.workers.max : template.spec.workers.initial;
}

/**
 * The predicted workers and worker size of an auto-created cluster not built yet: its autoscaling maximum or
 * its TOSCA's worker count; one worker as its template says, else as its TOSCA's VM size. Null when unknown.
 */
export function clusterPrediction(
  cluster: Resource,
  template: Resource | undefined,
): { workers: number; shape: WorkerShape } | null {
  const input: string = cluster.spec.autoscaling?.workers.input ?? template?.spec.workers.input ?? "wn_num";
  const system: string = cluster.spec.autoscaling?.workers.system ?? template?.spec.workers.system ?? "wn";
  const workers = cluster.spec.autoscaling
    ? (cluster.spec.autoscaling.workers.max as number)
    : workerCount(cluster.spec.tosca ?? {}, input);
  let shape = template ? templateShape(template) : null;
  if (!shape) {
    const vm = systemShape(cluster.spec.tosca ?? {}, system);
    if (vm)
      shape = {
        cpu_millis: vm.cpuMillis,
        memory_bytes: vm.memoryBytes,
        pods: template?.spec.workers.pods ?? 110,
      };
  }
  return workers === null || !shape ? null : { workers, shape };
}

/**
 * Whether an auto-created cluster is still being built, as far as the apps waiting for it are concerned: not
 * failed or deleted, and either not usable yet or usable with fewer schedulable workers than it is built with
 * (a cluster is ONLINE as soon as the nodes that joined are Ready, possibly before every worker has joined).
 */
export function stillBuilding(cluster: Resource, template: Resource | undefined): boolean {
  if (cluster.metadata.deleted || cluster.status.state === "FAILED") return false;
  if (cluster.status.state !== "ONLINE" && cluster.status.state !== "FAILING_METRICS") return true;
  const capacity = cluster.status.capacity;
  if (!capacity) return true;
  const input: string = cluster.spec.autoscaling?.workers.input ?? template?.spec.workers.input ?? "wn_num";
  const expected = cluster.status.autoscaling?.desired ?? workerCount(cluster.spec.tosca ?? {}, input) ?? 0;
  const joined = (capacity.nodes ?? []).filter((n: { schedulable: boolean }) => n.schedulable).length;
  return joined < expected;
}

/** A template that can serve an application, with the cloud its cluster would be built on. */
export interface Plan {
  template: Resource;
  cloud: Resource;
  /** The cloud's metric score (higher is better). */
  score: number;
}

/** The best plan: the highest cloud score, then the template's name (deterministic among equals). */
export function bestPlan(plans: Plan[]): Plan | null {
  let best: Plan | null = null;
  for (const p of plans) {
    if (
      !best ||
      p.score > best.score + 1e-12 ||
      (Math.abs(p.score - best.score) <= 1e-12 && p.template.metadata.name < best.template.metadata.name)
    )
      best = p;
  }
  return best;
}

/** The templates' part of NO_SUITABLE_RESOURCE's message: a line per template, why it did not serve. */
export function explainTemplates(
  verdicts: { template: TemplateRef; reason: string }[],
  namespace: string,
): string {
  if (verdicts.length === 0)
    return `no cluster template to create a cluster from (no ClusterTemplate in namespace '${namespace}', no GlobalClusterTemplate)`;
  return [
    "no cluster template fits:",
    ...verdicts.map((v) => `- ${templateTitle(v.template)}: ${v.reason}`),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// Events and retention

import type { ObjectEvent as ClusterEvent } from "../../controller/events.js";
export type { ClusterEvent };

export const EVENT_SOURCE = "scheduler";
/** The scheduler's events that say whether an auto-created cluster is in use. */
export const OCCUPANCY_EVENTS = new Set(["Created", "InUse", "Idle"]);

/**
 * Since when the cluster has been idle, as its events record it: the time of the scheduler's last occupancy
 * event when that is `Idle`, else null (in use, or never recorded). Persisted in the cluster, so a restarted
 * scheduler keeps counting from the same moment.
 */
export function idleSince(events: ClusterEvent[] | undefined): number | null {
  const list = events ?? [];
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i];
    if (e.source !== EVENT_SOURCE || !OCCUPANCY_EVENTS.has(e.reason)) continue;
    return e.reason === "Idle" ? Date.parse(e.time) : null;
  }
  return null;
}

export type RetentionStep =
  | { step: "in-use"; record: boolean }
  | { step: "idle"; record: boolean; dueInMs: number }
  | { step: "keep"; alive: number }
  | { step: "retire" };

/**
 * What to do about an auto-created cluster: in use (record `InUse` if the last record said idle), idle
 * (record `Idle` if not recorded yet; wait out the retention), or, idle for `retention` seconds, retire it:
 * unless that would leave fewer than `clusters.min` clusters of its template (`alive` counts it).
 */
export function retentionStep(input: {
  occupied: boolean;
  events: ClusterEvent[] | undefined;
  now: number;
  retentionSeconds: number;
  alive: number;
  min: number;
}): RetentionStep {
  const since = idleSince(input.events);
  if (input.occupied) return { step: "in-use", record: since !== null };
  if (since === null) return { step: "idle", record: true, dueInMs: input.retentionSeconds * 1000 };
  const due = since + input.retentionSeconds * 1000 - input.now;
  if (due > 0) return { step: "idle", record: false, dueInMs: due };
  if (input.alive <= input.min) return { step: "keep", alive: input.alive };
  return { step: "retire" };
}

export const isTemplateCluster = (c: Resource): boolean =>
  Boolean(c.spec?.auto_generated && c.spec?.template);

export const refOfTemplate = (c: Resource): TemplateRef | null =>
  (c.spec?.template as TemplateRef | null) ?? null;
