/**
 * `rok kubernetes` (`kube`): applications and clusters (cli.md §2.1, §2.2).
 */
import { Command, InvalidArgumentError } from "commander";
import { parse as parseYaml } from "yaml";
import { KrakeApiError } from "../../../client/index.js";
import type { KindDef, Resource } from "../../../resources/kind.js";
import {
  Application,
  Cloud,
  Cluster,
  ClusterTemplate,
  GlobalCloud,
  GlobalClusterTemplate,
} from "../../../resources/registry.js";
import { parseLabelConstraint, parseMetricConstraint } from "../../../resources/validators/constraints.js";
import { splitValues } from "../argv.js";
import {
  applyAutoscaling,
  autoscalingOptions,
  checkAutoscalingFlags,
  wholeNumber,
  type Policy,
} from "../autoscaling.js";
import {
  aKind,
  addGet,
  addList,
  addReadDelete,
  collect,
  context,
  getModifyPut,
  leaf,
  many,
  metricRefs,
  nsOf,
  pair,
  parseLabels,
  print,
  run,
  toInteger,
  type Context,
  type LeafFlags,
  type MetricRef,
} from "../common.js";
import { CliError, withHint } from "../errors.js";
import { appendedEvents, eventStream, eventsOf, followObject, renderEvents } from "../events.js";
import { readYamlDocuments, readYamlMapping } from "../files.js";
import { parseFormat } from "../output.js";
import { readKubeconfig } from "../kubeconfig.js";
import { parseDuration, progressFor, waitFor } from "../wait.js";

const example = (...cmds: string[]) =>
  `\nExample${cmds.length > 1 ? "s" : ""}:\n${cmds.map((c) => `  $ rok ${c}\n`).join("")}`;

// ---------------------------------------------------------------------------------------------------------
// --wait

interface WaitSpec {
  states: string[];
  /** The state a bare `--wait` waits for. */
  bare: string;
}

const DEFAULT_TIMEOUT = "30m";

function waitOptions(cmd: Command, spec: WaitSpec): Command {
  return cmd
    .option(
      "--wait [state]",
      `wait (by watching) until the object is in this state: ${spec.states.join(", ")} (bare flag: ${spec.bare})`,
    )
    .option("--timeout <duration>", "how long --wait waits, e.g. 90s, 15m, 1h", DEFAULT_TIMEOUT);
}

interface WaitRequest {
  state: string;
  timeoutMs: number;
}

/** The validated `--wait`/`--timeout` pair, or null without `--wait`; checked before anything is sent. */
function waitRequest(flags: LeafFlags, spec: WaitSpec): WaitRequest | null {
  if (flags.wait === undefined) return null;
  const value = flags.wait === true ? "" : String(flags.wait);
  const state = value === "" ? spec.bare : value.toLowerCase();
  if (!spec.states.includes(state))
    throw new CliError(`--wait: expected one of ${spec.states.join(", ")}, got '${value}'`, 2);
  return { state, timeoutMs: parseDuration(String(flags.timeout ?? DEFAULT_TIMEOUT)) };
}

/** Prints `obj`, or, with `--wait`, the object once it reached the state. */
async function printAfterWait(
  ctx: Context,
  def: KindDef,
  obj: Resource,
  wait: WaitRequest | null,
  requireStatusChange = false,
): Promise<void> {
  if (wait === null) return print(def, obj, ctx.format);
  const waited = await waitFor(ctx.client, def, obj, {
    ...wait,
    requireStatusChange,
    progress: progressFor(`${def.kind} ${obj.metadata.name}`),
  });
  print(def, waited, ctx.format);
}

/** `delete NAME [--force] [--wait [deleting|deleted]]`, the same for applications and clusters. */
function addWaitableDelete(group: Command, def: KindDef, forceHelp: string, examples: string[]): void {
  waitOptions(
    leaf(group.command("delete").argument("<name>").description(`Delete ${aKind(def)}`), {
      namespaced: true,
    }).option("--force", forceHelp),
    DELETE_WAIT,
  )
    .addHelpText("after", example(...examples))
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const wait = waitRequest(flags, DELETE_WAIT);
        const ctx = context(flags);
        const deleted = await ctx.client
          .kind(def)
          .delete(name, ctx.namespace, { force: Boolean(flags.force) });
        // The object may already be in a state (even FAILED) before the delete: only what follows counts.
        await printAfterWait(ctx, def, deleted, wait, true);
      }),
    );
}

/**
 * GET, modify, PUT, then print or wait. Only a changed spec makes a controller act, so only then must the
 * wait see a status change (a label-only update is done when the PUT is).
 */
async function updateAndWait(
  ctx: Context,
  def: KindDef,
  name: string,
  modify: (obj: Resource) => void,
  wait: WaitRequest | null,
): Promise<void> {
  const kc = ctx.client.kind(def);
  const obj = await kc.get(name, ctx.namespace);
  const specBefore = JSON.stringify(obj.spec);
  modify(obj);
  const updated = await kc.update(obj);
  await printAfterWait(ctx, def, updated, wait, JSON.stringify(updated.spec) !== specBefore);
}

// ---------------------------------------------------------------------------------------------------------
// Flags shared by applications and clusters

function backoffOptions(cmd: Command): Command {
  return cmd
    .option("--backoff <n>", "multiplier of the retry delay after a failure (default 1)")
    .option("--backoff_delay <seconds>", "delay before the first retry (default 1)")
    .option("--backoff_limit <n>", "retries before giving up; -1 retries forever (default -1)");
}

/** The backoff fields given on the command line (all three, with defaults, when `withDefaults`). */
function backoffValues(flags: LeafFlags, withDefaults: boolean): Record<string, number> {
  const out: Record<string, number> = withDefaults ? { backoff: 1, backoff_delay: 1, backoff_limit: -1 } : {};
  for (const key of ["backoff", "backoff_delay", "backoff_limit"]) {
    if (flags[key] !== undefined) out[key] = toInteger(flags[key], `--${key}`);
  }
  return out;
}

function labelOption(cmd: Command): Command {
  return cmd.option("-l, --label <key=value>", "label (repeatable)", collect);
}

/** Adds metric references, replacing one with the same name and scope (a new weight) instead of doubling it. */
function mergeMetricRefs(existing: MetricRef[], added: MetricRef[]): MetricRef[] {
  const out = [...existing];
  for (const ref of added) {
    const i = out.findIndex((m) => m.name === ref.name && m.namespaced === ref.namespaced);
    if (i >= 0) out[i] = ref;
    else out.push(ref);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Applications

const APP_CREATE_WAIT: WaitSpec = { states: ["pending", "creating", "running"], bare: "running" };
const APP_UPDATE_WAIT: WaitSpec = { states: ["reconciling", "running"], bare: "running" };
const DELETE_WAIT: WaitSpec = { states: ["deleting", "deleted"], bare: "deleted" };

/** Kinds that do not survive a migration without a shutdown hook (krakectl warns about them too). */
const MIGRATION_SENSITIVE_KINDS = ["Job", "CronJob", "StatefulSet"];

const URL_HINT =
  "Application should be defined by a TOSCA template URL with `.yaml` or `.yml` suffix or a CSAR archive URL with `.csar` or `.zip` suffix.";

/** `-f` / `-u` → the spec fields that define the application (cli.md §2.1). */
function appDefinition(
  flags: LeafFlags,
): { manifest?: unknown[]; tosca?: unknown; csar?: string | null } | null {
  if (flags.file && flags.url) throw new CliError("use either --file or --url, not both");
  if (flags.file) {
    const docs = readYamlDocuments(flags.file, "--file");
    const first = docs[0];
    if (first && typeof first === "object" && !Array.isArray(first) && "tosca_definitions_version" in first) {
      if (docs.length > 1) throw new CliError(`--file: a TOSCA template must be a single YAML document`);
      return { manifest: [], tosca: first };
    }
    return { manifest: docs };
  }
  if (flags.url) {
    const path = (() => {
      try {
        return new URL(flags.url).pathname.toLowerCase();
      } catch {
        throw new CliError(`--url: '${flags.url}' is not a URL`);
      }
    })();
    if (path.endsWith(".yaml") || path.endsWith(".yml")) return { manifest: [], tosca: flags.url };
    if (path.endsWith(".zip") || path.endsWith(".csar")) return { manifest: [], tosca: {}, csar: flags.url };
    throw new CliError(`--url: ${URL_HINT}`);
  }
  return null;
}

/** `--hook-complete` and `--hook-shutdown [timeout [strategy [retries]]]` → hook fields of the spec. */
function hookFields(flags: LeafFlags): Record<string, unknown> | null {
  if (!flags.hookComplete && flags.hookShutdown === undefined) return null;
  const hooks: string[] = [];
  const out: Record<string, unknown> = { hooks };
  if (flags.hookComplete) hooks.push("complete");
  if (flags.hookShutdown !== undefined) {
    hooks.push("shutdown");
    const [timeout, strategy, retries] = splitValues(
      flags.hookShutdown === true ? "" : String(flags.hookShutdown),
    );
    out.shutdown_grace_time = timeout === undefined ? 60 : toInteger(timeout, "--hook-shutdown timeout");
    if (strategy !== undefined) {
      if (strategy !== "give_up" && strategy !== "delete")
        throw new CliError(
          `--hook-shutdown: the failure strategy must be give_up or delete, got '${strategy}'`,
        );
      out.shutdown_failure_strategy = strategy;
    }
    if (retries !== undefined) out.shutdown_retry_count = toInteger(retries, "--hook-shutdown retry count");
  }
  return out;
}

function migrationFlag(flags: LeafFlags): boolean | undefined {
  if (flags.enableMigration && flags.disableMigration)
    throw new CliError("use either --enable-migration or --disable-migration, not both");
  if (flags.disableMigration) return false;
  if (flags.enableMigration) return true;
  return undefined;
}

/**
 * krakectl's `-i KEY=VALUE`: in every `env` list of the application, an entry whose value is KEY gets VALUE,
 * so one manifest can serve several deployments.
 */
export function injectVariables(node: unknown, vars: Record<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) injectVariables(item, vars);
    return;
  }
  if (!node || typeof node !== "object") return;
  const obj = node as Record<string, unknown>;
  if (Array.isArray(obj.env)) {
    for (const e of obj.env as { value?: unknown }[]) {
      if (e && typeof e.value === "string" && Object.hasOwn(vars, e.value)) e.value = vars[e.value];
    }
  }
  for (const [key, value] of Object.entries(obj)) if (key !== "env") injectVariables(value, vars);
}

function parseInjected(values: string[] | undefined): Record<string, string> | null {
  if (!values?.length) return null;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new CliError(`--inject: expected KEY=VALUE, got '${v}'`);
    out[v.slice(0, i).trim()] = v.slice(i + 1);
  }
  return out;
}

function warnMigrationSensitive(spec: Record<string, any>): void {
  if (!spec.constraints?.migration || spec.hooks?.includes("shutdown")) return;
  const kinds = new Set<string>();
  for (const r of spec.manifest ?? []) if (MIGRATION_SENSITIVE_KINDS.includes(r?.kind)) kinds.add(r.kind);
  if (spec.tosca && typeof spec.tosca === "object") {
    const text = JSON.stringify(spec.tosca);
    for (const k of MIGRATION_SENSITIVE_KINDS) if (text.includes(`"kind":"${k}"`)) kinds.add(k);
  }
  if (kinds.size === 0) return;
  process.stderr.write(
    `Warning: migrating ${[...kinds].join(", ")} without a shutdown hook may lose work; ` +
      "add --hook-shutdown or --disable-migration.\n",
  );
}

function appConstraintOptions(cmd: Command): Command {
  return cmd
    .option("--enable-migration", "allow Krake to migrate the application (default)")
    .option("--disable-migration", "pin the application to the cluster it is first scheduled to")
    .option(
      "-L, --cluster-label-constraint <expr>",
      "cluster label constraint, e.g. 'location=DE' (repeatable)",
      collect,
    )
    .option(
      "-R, --cluster-resource-constraint <crd>",
      "custom resource the cluster must have (repeatable)",
      collect,
    )
    .option(
      "-M, --cluster-metric-constraint <expr>",
      "cluster metric constraint, e.g. 'load < 5' (repeatable)",
      collect,
    )
    .option("--hook-complete", "enable the complete hook")
    .option(
      "--hook-shutdown [timeout]",
      "enable the shutdown hook: [timeout-seconds (60) [give_up|delete [retry-count]]]",
    );
}

function applicationCommands(kube: Command): void {
  const def = Application;
  const app = kube
    .command("application")
    .alias("app")
    .description("Manage Kubernetes applications")
    .addHelpText("after", example("kube app create -f echo-demo.yaml echo-demo", "kube app get echo-demo"));

  const create = leaf(app.command("create").argument("<name>").description("Create an application"), {
    namespaced: true,
  })
    .option("-f, --file <file>", "Kubernetes manifest (multi-document YAML) or TOSCA template file")
    .option("-u, --url <url>", "TOSCA template URL (.yaml, .yml) or CSAR archive URL (.csar, .zip)")
    .option("-O, --observer_schema_file <file>", "observer schema (multi-document YAML)");
  appConstraintOptions(create);
  labelOption(create);
  backoffOptions(create)
    .option("--auto-cluster-create", "create a cluster automatically when no existing one fits")
    .option("-i, --inject <key=value>", "in env lists, replace the value KEY by VALUE (one or more)", many);
  waitOptions(create, APP_CREATE_WAIT)
    .addHelpText(
      "after",
      example(
        "kube app create -f echo-demo.yaml echo-demo",
        "kube app create -f echo-demo.yaml -L location=DE --wait echo-demo",
        "kube app create -u https://example.com/app.csar --hook-shutdown 30 delete 3 my-app",
      ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const definition = appDefinition(flags);
        if (!definition) {
          throw new CliError(
            "Application should be defined by a TOSCA template file or a Kubernetes manifest file via the " +
              "`--file` optional argument or a TOSCA template URL or CSAR URL via the `--url` optional argument.",
          );
        }
        const wait = waitRequest(flags, APP_CREATE_WAIT);
        const ctx = context(flags);
        const spec: Record<string, any> = {
          manifest: definition.manifest ?? [],
          tosca: definition.tosca ?? {},
          csar: definition.csar ?? null,
          observer_schema: flags.observer_schema_file
            ? readYamlDocuments(flags.observer_schema_file, "--observer_schema_file")
            : [],
          constraints: {
            migration: migrationFlag(flags) ?? true,
            cluster: {
              labels: flags.clusterLabelConstraint ?? [],
              custom_resources: flags.clusterResourceConstraint ?? [],
              metrics: flags.clusterMetricConstraint ?? [],
            },
          },
          ...backoffValues(flags, true),
          auto_cluster_create: Boolean(flags.autoClusterCreate),
          ...hookFields(flags),
        };
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: { name, namespace: ctx.namespace, labels: parseLabels(flags.label) },
          spec,
        };
        const vars = parseInjected(flags.inject);
        if (vars) injectVariables(body, vars);
        if (!flags.url) warnMigrationSensitive(spec);
        const created = await ctx.client.kind(def).create(body, ctx.namespace);
        await printAfterWait(ctx, def, created, wait);
      }),
    );

  const update = leaf(
    app.command("update").argument("<name>").description("Update an application (GET, modify, PUT)"),
    { namespaced: true },
  )
    .option("-f, --file <file>", "new Kubernetes manifest or TOSCA template file")
    .option("-u, --url <url>", "new TOSCA template URL or CSAR archive URL")
    .option("-O, --observer_schema_file <file>", "new observer schema")
    .option("--remove-existing-labels", "drop the current labels before adding -l ones")
    .option("--remove-existing-label-constraints", "drop the current cluster label constraints")
    .option("--remove-existing-resource-constraints", "drop the current cluster resource constraints")
    .option("--remove-existing-metric-constraints", "drop the current cluster metric constraints");
  appConstraintOptions(update);
  labelOption(update);
  backoffOptions(update);
  waitOptions(update, APP_UPDATE_WAIT)
    .addHelpText(
      "after",
      example(
        "kube app update -f echo-demo-update.yaml echo-demo",
        "kube app update -L location=SK echo-demo",
        "kube app update -l team=web --remove-existing-labels echo-demo",
      ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const wait = waitRequest(flags, APP_UPDATE_WAIT);
        const definition = appDefinition(flags);
        const observerSchema = flags.observer_schema_file
          ? readYamlDocuments(flags.observer_schema_file, "--observer_schema_file")
          : undefined;
        const labels = parseLabels(flags.label);
        const hooks = hookFields(flags);
        const migration = migrationFlag(flags);
        const ctx = context(flags);
        await updateAndWait(
          ctx,
          def,
          name,
          (obj) => {
            const spec = obj.spec as Record<string, any>;
            if (definition) {
              // A new definition replaces the old one wholly: a manifest generated from an old TOSCA must go.
              spec.manifest = definition.manifest ?? [];
              if (definition.tosca !== undefined) spec.tosca = definition.tosca;
              else spec.tosca = {};
              if (definition.csar !== undefined) spec.csar = definition.csar;
              else spec.csar = null;
            }
            if (observerSchema) spec.observer_schema = observerSchema;
            if (flags.removeExistingLabels) obj.metadata.labels = {};
            Object.assign(obj.metadata.labels, labels);
            if (hooks) Object.assign(spec, hooks);
            const cluster = spec.constraints.cluster;
            if (flags.removeExistingLabelConstraints) cluster.labels = [];
            if (flags.clusterLabelConstraint) cluster.labels = flags.clusterLabelConstraint;
            if (flags.removeExistingResourceConstraints) cluster.custom_resources = [];
            if (flags.clusterResourceConstraint) cluster.custom_resources = flags.clusterResourceConstraint;
            if (flags.removeExistingMetricConstraints) cluster.metrics = [];
            if (flags.clusterMetricConstraint)
              cluster.metrics = [...(cluster.metrics ?? []), ...flags.clusterMetricConstraint];
            if (migration !== undefined) spec.constraints.migration = migration;
            Object.assign(spec, backoffValues(flags, false));
            if (!flags.url) warnMigrationSensitive(spec);
          },
          wait,
        );
      }),
    );

  addWaitableDelete(
    app,
    def,
    "remove the application from Krake at once, without cleaning up on its cluster",
    ["kube app delete echo-demo", "kube app delete --wait echo-demo"],
  );

  leaf(
    app
      .command("retry")
      .argument("<name>")
      .description("Retry the migration or deletion of a DEGRADED application (shutdown hook failed)"),
    { namespaced: true },
  )
    .addHelpText("after", example("kube app retry echo-demo"))
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const ctx = context(flags);
        print(def, await ctx.client.kind(def).action(name, "retry", undefined, ctx.namespace), ctx.format);
      }),
    );

  addList(app, def, "kube app");
  addGet(app, def, "kube app");
}

// ---------------------------------------------------------------------------------------------------------
// Clusters

const CLUSTER_CREATE_WAIT: WaitSpec = {
  states: ["pending", "creating", "connecting", "online"],
  bare: "online",
};
const CLUSTER_UPDATE_WAIT: WaitSpec = { states: ["reconciling", "online"], bare: "online" };

function clusterMetricOptions(cmd: Command): Command {
  return cmd
    .option(
      "-R, --custom-resource <crd>",
      "custom resource definition the cluster offers (repeatable)",
      collect,
    )
    .option("--metric <metric>", "NAME WEIGHT: a metric and its weight (repeatable)", pair)
    .option("--global-metric <metric>", "NAME WEIGHT: a global metric and its weight (repeatable)", pair);
}

function cloudConstraintOptions(cmd: Command): Command {
  return cmd
    .option(
      "-L, --cloud-label-constraint <expr>",
      "cloud label constraint, e.g. 'location=DE' (repeatable)",
      collect,
    )
    .option(
      "-M, --cloud-metric-constraint <expr>",
      "cloud metric constraint, e.g. 'load < 5' (repeatable)",
      collect,
    );
}

/**
 * What `kube cluster get` shows of the cloud the cluster is scheduled to (cli.md §2.2): with inheritance or
 * cloud constraints, the cloud's labels as `v (inherited)` and its metrics marked inherited. Only the table
 * shows this; -o json/yaml print the object as stored.
 */
export function mergeInherited(cluster: Resource, cloud: Resource): Resource {
  const out = structuredClone(cluster);
  const cloudLabels: Record<string, string> = cloud.metadata.labels ?? {};
  const labelKeys = new Set<string>();
  if (out.metadata.inherit_labels) for (const k of Object.keys(cloudLabels)) labelKeys.add(k);
  for (const c of out.spec.constraints?.cloud?.labels ?? []) {
    try {
      labelKeys.add(parseLabelConstraint(c).key);
    } catch {
      // A stored constraint is valid; an unparsable one simply shows nothing inherited.
    }
  }
  for (const k of labelKeys) if (k in cloudLabels) out.metadata.labels[k] = `${cloudLabels[k]} (inherited)`;

  const cloudMetrics: MetricRef[] = cloud.spec?.[cloud.spec?.type]?.metrics ?? [];
  const metricNames = new Set<string>();
  if (out.spec.inherit_metrics) for (const m of cloudMetrics) metricNames.add(m.name);
  for (const c of out.spec.constraints?.cloud?.metrics ?? []) {
    try {
      metricNames.add(parseMetricConstraint(c).metric);
    } catch {
      // As above.
    }
  }
  const own = new Set(out.spec.metrics.map((m: MetricRef) => `${m.namespaced}/${m.name}`));
  for (const m of cloudMetrics) {
    if (metricNames.has(m.name) && !own.has(`${m.namespaced}/${m.name}`))
      out.spec.metrics.push({ ...m, inherited: true });
  }
  return out;
}

async function withInherited(ctx: Context, cluster: Resource): Promise<Resource> {
  const target = cluster.status?.scheduled_to;
  const constraints = cluster.spec.constraints?.cloud ?? {};
  const wantsCloud =
    cluster.metadata.inherit_labels ||
    cluster.spec.inherit_metrics ||
    constraints.labels?.length ||
    constraints.metrics?.length;
  if (!target || !wantsCloud) return cluster;
  const def = target.namespace ? Cloud : GlobalCloud;
  try {
    return mergeInherited(cluster, await ctx.client.kind(def).get(target.name, target.namespace));
  } catch (err) {
    // The cloud may be gone (being deleted) or not readable by this user: show the cluster as stored.
    if (err instanceof KrakeApiError && (err.status === 404 || err.status === 403)) return cluster;
    throw err;
  }
}

function clusterCommands(kube: Command): void {
  const def = Cluster;
  const group = kube
    .command("cluster")
    .description("Manage Kubernetes clusters")
    .addHelpText(
      "after",
      example("kube cluster create -f im-cluster.yaml my-cluster", "kube cluster register -k ~/.kube/config"),
    );

  const register = leaf(
    group
      .command("register")
      .description("Register an existing Kubernetes cluster, named after its kubeconfig's cluster entry"),
    { namespaced: true },
  )
    .requiredOption("-k, --kubeconfig <file>", "kubeconfig of the cluster")
    .option("-c, --context <name>", "context of the kubeconfig to use (default: its current-context)");
  clusterMetricOptions(register);
  labelOption(register);
  backoffOptions(register)
    .addHelpText(
      "after",
      example(
        "kube cluster register -k ~/.kube/config -l location=DE",
        "kube cluster register -k kubeconfig.yaml -c edge --global-metric electricity_cost_1 10",
      ),
    )
    .action(
      run(async (flags: LeafFlags) => {
        const { kubeconfig, clusterName } = readKubeconfig(flags.kubeconfig, flags.context);
        const ctx = context(flags);
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: { name: clusterName, namespace: ctx.namespace, labels: parseLabels(flags.label) },
          spec: {
            kubeconfig,
            metrics: metricRefs(flags) ?? [],
            custom_resources: flags.customResource ?? [],
            ...backoffValues(flags, true),
            constraints: { cloud: { labels: [], metrics: [] } },
          },
        };
        print(def, await ctx.client.kind(def).create(body, ctx.namespace), ctx.format);
      }),
    );

  const create = leaf(
    group
      .command("create")
      .argument("<name>")
      .description("Create a Kubernetes cluster on a cloud from a TOSCA template"),
    { namespaced: true },
  ).requiredOption("-f, --file <file>", "TOSCA template describing the cluster");
  clusterMetricOptions(create).option(
    "--inherit-metrics",
    "inherit every metric of the cloud the cluster is scheduled to",
  );
  labelOption(create).option(
    "--inherit-labels",
    "inherit every label of the cloud the cluster is scheduled to",
  );
  cloudConstraintOptions(create);
  backoffOptions(create);
  autoscalingOptions(create, { update: false, pool: true });
  waitOptions(create, CLUSTER_CREATE_WAIT)
    .addHelpText(
      "after",
      example(
        "kube cluster create -f im-cluster.yaml my-cluster",
        "kube cluster create -f im-cluster.yaml -L location=DE --inherit-labels --wait my-cluster",
        "kube cluster create -f im-cluster.yaml --autoscale 1:5 --scale-down-idle 300 my-cluster",
      ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const wait = waitRequest(flags, CLUSTER_CREATE_WAIT);
        const autoscaling = applyAutoscaling(null, flags, { name: "the new cluster", creating: true });
        const tosca = readYamlMapping(flags.file, "--file");
        const ctx = context(flags);
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: {
            name,
            namespace: ctx.namespace,
            labels: parseLabels(flags.label),
            inherit_labels: Boolean(flags.inheritLabels),
          },
          spec: {
            tosca,
            metrics: metricRefs(flags) ?? [],
            inherit_metrics: Boolean(flags.inheritMetrics),
            custom_resources: flags.customResource ?? [],
            ...backoffValues(flags, true),
            constraints: {
              cloud: { labels: flags.cloudLabelConstraint ?? [], metrics: flags.cloudMetricConstraint ?? [] },
            },
            ...(autoscaling ? { autoscaling } : {}),
          },
        };
        const created = await ctx.client.kind(def).create(body, ctx.namespace);
        await printAfterWait(ctx, def, created, wait);
      }),
    );

  const update = leaf(
    group.command("update").argument("<name>").description("Update a Kubernetes cluster (GET, modify, PUT)"),
    { namespaced: true },
  )
    .option("-k, --kubeconfig <file>", "new kubeconfig (registered clusters)")
    .option("-c, --context <name>", "context of the new kubeconfig")
    .option("-f, --file <file>", "new TOSCA template: how a cluster is scaled")
    .option("--remove-existing-labels", "drop the current labels before adding -l ones")
    .option("--remove-existing-metrics", "drop the current metrics before adding new ones")
    .option("--remove-existing-cloud-label-constraints", "drop the current cloud label constraints")
    .option("--remove-existing-cloud-metric-constraints", "drop the current cloud metric constraints");
  clusterMetricOptions(update);
  labelOption(update);
  backoffOptions(update);
  cloudConstraintOptions(update);
  autoscalingOptions(update, { update: true, pool: true });
  waitOptions(update, CLUSTER_UPDATE_WAIT)
    .addHelpText(
      "after",
      example(
        "kube cluster update -f im-cluster-scale-up.yaml --wait my-cluster",
        "kube cluster update -l location=DE my-cluster",
        "kube cluster update --autoscale 2:8 --max-concurrent-boots 3 my-cluster",
        "kube cluster update --no-autoscale -f im-cluster-3-workers.yaml my-cluster",
      ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const wait = waitRequest(flags, CLUSTER_UPDATE_WAIT);
        if (flags.context && !flags.kubeconfig) throw new CliError("--context needs --kubeconfig");
        checkAutoscalingFlags(flags);
        const tosca = flags.file ? readYamlMapping(flags.file, "--file") : undefined;
        const kubeconfig = flags.kubeconfig
          ? readKubeconfig(flags.kubeconfig, flags.context).kubeconfig
          : undefined;
        const labels = parseLabels(flags.label);
        const metrics = metricRefs(flags);
        const ctx = context(flags);
        await updateAndWait(
          ctx,
          def,
          name,
          (obj) => {
            const spec = obj.spec as Record<string, any>;
            const autoscaling = applyAutoscaling(spec.autoscaling ?? null, flags, {
              name: `Cluster ${name}`,
              creating: false,
            });
            if (autoscaling !== undefined) spec.autoscaling = autoscaling;
            if (tosca) spec.tosca = tosca;
            if (kubeconfig) spec.kubeconfig = kubeconfig;
            if (flags.removeExistingLabels) obj.metadata.labels = {};
            Object.assign(obj.metadata.labels, labels);
            if (flags.removeExistingMetrics) spec.metrics = [];
            if (metrics) spec.metrics = mergeMetricRefs(spec.metrics, metrics);
            if (flags.customResource) spec.custom_resources = flags.customResource;
            const cloud = spec.constraints.cloud;
            if (flags.removeExistingCloudLabelConstraints) cloud.labels = [];
            if (flags.cloudLabelConstraint)
              cloud.labels = [...(cloud.labels ?? []), ...flags.cloudLabelConstraint];
            if (flags.removeExistingCloudMetricConstraints) cloud.metrics = [];
            if (flags.cloudMetricConstraint)
              cloud.metrics = [...(cloud.metrics ?? []), ...flags.cloudMetricConstraint];
            Object.assign(spec, backoffValues(flags, false));
          },
          wait,
        ).catch((err) => {
          throw workerCountHint(err);
        });
      }),
    );

  addWaitableDelete(
    group,
    def,
    "remove the cluster from Krake at once, leaving its infrastructure and applications",
    ["kube cluster delete my-cluster", "kube cluster delete --wait --timeout 20m my-cluster"],
  );

  addList(group, def, "kube cluster");
  addGet(group, def, "kube cluster", withInherited);
  addEvents(group, def, "kube cluster");
}

/**
 * The API refuses a TOSCA whose worker input changed while the autoscaler owns the count (422 naming
 * `spec.tosca.topology_template.inputs.<input>.default`); say which flags do what the user meant.
 */
function workerCountHint(err: unknown): unknown {
  const owned = /^spec\.tosca\.topology_template\.inputs\.[^.]+\.default$/;
  if (err instanceof KrakeApiError && err.status === 422 && err.errors?.some((e) => owned.test(e.path)))
    return withHint(
      err,
      "the autoscaler sets this cluster's worker count. Change its bounds with --autoscale MIN:MAX, " +
        "or add --no-autoscale to this update to set the count with -f yourself.",
    );
  return err;
}

// ---------------------------------------------------------------------------------------------------------
// Events

/** `events NAME [--watch]`: the decisions recorded in the object's status.events (docs/autoscaling.md). */
function addEvents(group: Command, def: KindDef, path: string): void {
  const what = def.kind.toLowerCase();
  leaf(
    group
      .command("events")
      .argument("<name>")
      .description(
        `Show the event history of ${aKind(def)}: what the controllers decided about it, newest last`,
      ),
    { namespaced: def.namespaced },
  )
    .option("-w, --watch", "after the history, print each new event as it is recorded, until Ctrl-C")
    .addHelpText(
      "after",
      "\nColumns: time (UTC), type (Normal or Warning), reason, message, source (the controller that decided).\n" +
        "-o json|yaml print the list; with --watch, one JSON object per line or one YAML document per event.\n" +
        example(
          `${path} events my-${what}`,
          `${path} events --watch my-${what}`,
          `${path} events my-${what} -o json`,
        ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        if (parseFormat(flags.output) === "name")
          throw new CliError("-o name does not apply to events (choose table, wide, json or yaml)", 2);
        const ctx = context(flags);
        const format = ctx.format === "json" || ctx.format === "yaml" ? ctx.format : "table";
        const kc = ctx.client.kind(def);
        const obj = await kc.get(name, nsOf(def, ctx));
        const history = eventsOf(obj);
        const label = `${def.kind} ${def.namespaced ? `${obj.metadata.namespace}/` : ""}${name}`;
        if (!flags.watch) {
          if (format === "table" && history.length === 0) process.stderr.write(`No events for ${label}.\n`);
          else process.stdout.write(renderEvents(history, format));
          return;
        }
        const stream = eventStream(format, history, (text) => process.stdout.write(text));
        stream.add(history);
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once("SIGINT", stop);
        try {
          let seen = history;
          const end = await followObject(kc, obj, abort.signal, (o) => {
            const current = eventsOf(o);
            stream.add(appendedEvents(seen, current));
            seen = current;
          });
          if (end === "deleted") process.stderr.write(`${label} was deleted.\n`);
        } finally {
          process.off("SIGINT", stop);
        }
      }),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Cluster templates (docs/autoscaling.md): how Krake may create clusters on its own

/** `--input NAME=VALUE` → the input's value, read as a YAML scalar (`4`, `true`, `8 GB`, `"007"`). */
function parseInput(value: string, previous: [string, unknown][] = []): [string, unknown][] {
  const i = value.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected NAME=VALUE, got '${value}'`);
  const text = value.slice(i + 1);
  let parsed: unknown;
  try {
    // YAML 1.1, as the TOSCA files are read (files.ts): a value means on the command line what it means there.
    parsed = text.trim() === "" ? "" : parseYaml(text, { version: "1.1" });
  } catch (err) {
    throw new InvalidArgumentError(
      `the value of '${value.slice(0, i)}' is not YAML: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  // A YAML 1.1 timestamp would become a Date: the input gets the text as written, as JSON would carry it.
  if (parsed instanceof Date) parsed = text.trim();
  if (parsed !== null && typeof parsed === "object")
    throw new InvalidArgumentError(
      `the value of '${value.slice(0, i)}' must be a scalar (a number, a string, true or false)`,
    );
  return [...previous, [value.slice(0, i).trim(), parsed]];
}

function templateOptions(cmd: Command, update: boolean): Command {
  cmd
    .option(
      "-f, --file <file>",
      update
        ? "new TOSCA template of the clusters (replaces the current one)"
        : "TOSCA template of the clusters (as for kube cluster create)",
    )
    .option(
      "--spec-file <file>",
      update
        ? "replace the whole spec with this YAML (a spec mapping, or a template document); other flags apply on top"
        : "the whole spec as YAML (a spec mapping, or a template document); other flags apply on top",
    )
    .option(
      "--input <name=value>",
      "value of a TOSCA input, written into its default; read as YAML: 4, true, '8 GB' (repeatable)",
      parseInput,
    );
  if (update)
    cmd.option("--remove-existing-inputs", "drop the current input values before adding --input ones");
  cmd.option("-l, --label <key=value>", "label of the clusters it creates (repeatable)", collect);
  if (update) cmd.option("--remove-existing-labels", "drop the current labels before adding -l ones");
  cmd
    .option("--inherit-labels", "created clusters carry their cloud's labels too (default)")
    .option("--no-inherit-labels", "created clusters carry only the template's labels")
    .option(
      "--metric <metric>",
      "NAME WEIGHT: a metric of the clusters it creates, and its weight (repeatable)",
      pair,
    )
    .option(
      "--global-metric <metric>",
      "NAME WEIGHT: a global metric of the clusters it creates (repeatable)",
      pair,
    );
  if (update) cmd.option("--remove-existing-metrics", "drop the current metrics before adding new ones");
  cmd
    .option("--inherit-metrics", "created clusters carry their cloud's metrics too (default)")
    .option("--no-inherit-metrics", "created clusters carry only the template's metrics");
  cloudConstraintOptions(cmd);
  if (update)
    cmd
      .option("--remove-existing-cloud-label-constraints", "drop the current cloud label constraints")
      .option("--remove-existing-cloud-metric-constraints", "drop the current cloud metric constraints");
  cmd
    .option(
      "--min-clusters <n>",
      "auto-created clusters of this template kept alive even when empty (default 0)",
      wholeNumber("a number of clusters"),
    )
    .option(
      "--max-clusters <n>",
      "auto-created clusters of this template alive at once, at most (default 3)",
      wholeNumber("a number of clusters", 1),
    )
    .option(
      "--retention <seconds>",
      "how long an emptied auto-created cluster is kept (default 600)",
      wholeNumber("seconds"),
    )
    .option("--workers-input <name>", "TOSCA input holding the worker count (default wn_num)")
    .option("--workers-system <name>", "TOSCA Compute node of the workers (default wn)")
    .option(
      "--initial-workers <n>",
      "workers of a new cluster (default 1)",
      wholeNumber("a number of workers"),
    )
    .option(
      "--worker-cpu <quantity>",
      "allocatable cpu of one worker, e.g. 4 or 3500m (default: from the TOSCA)",
    )
    .option(
      "--worker-memory <quantity>",
      "allocatable memory of one worker, e.g. 7Gi (default: from the TOSCA)",
    )
    .option("--worker-pods <n>", "pods one worker can run (default 110)", wholeNumber("a number of pods", 1));
  return autoscalingOptions(cmd, { update, pool: false });
}

/** `--spec-file`: a spec mapping, or a whole template document (its `spec` is taken). */
function readSpecFile(path: string): Record<string, any> {
  const doc = readYamlMapping(path, "--spec-file");
  if ("spec" in doc && ("kind" in doc || "metadata" in doc)) {
    const spec = doc.spec;
    if (!spec || typeof spec !== "object" || Array.isArray(spec))
      throw new CliError(`--spec-file: the spec of ${path} must be a YAML mapping`);
    return spec as Record<string, any>;
  }
  return doc;
}

/** Sets the template spec fields the flags give, on `spec` (the stored one on update, merging as clusters do). */
function applyTemplateFlags(
  spec: Record<string, any>,
  flags: LeafFlags,
  tosca: Record<string, unknown> | undefined,
  target: { name: string; creating: boolean },
): void {
  if (tosca) spec.tosca = tosca;
  if (flags.removeExistingInputs) spec.inputs = {};
  if (flags.input) spec.inputs = { ...(spec.inputs ?? {}), ...Object.fromEntries(flags.input) };
  if (flags.removeExistingLabels) spec.labels = {};
  if (flags.label) spec.labels = { ...(spec.labels ?? {}), ...parseLabels(flags.label) };
  if (flags.inheritLabels !== undefined) spec.inherit_labels = flags.inheritLabels;
  if (flags.removeExistingMetrics) spec.metrics = [];
  const metrics = metricRefs(flags);
  if (metrics) spec.metrics = mergeMetricRefs(spec.metrics ?? [], metrics);
  if (flags.inheritMetrics !== undefined) spec.inherit_metrics = flags.inheritMetrics;
  const cloud = ((spec.constraints ??= {}).cloud ??= {});
  if (flags.removeExistingCloudLabelConstraints) cloud.labels = [];
  if (flags.cloudLabelConstraint) cloud.labels = [...(cloud.labels ?? []), ...flags.cloudLabelConstraint];
  if (flags.removeExistingCloudMetricConstraints) cloud.metrics = [];
  if (flags.cloudMetricConstraint) cloud.metrics = [...(cloud.metrics ?? []), ...flags.cloudMetricConstraint];
  if (flags.minClusters !== undefined || flags.maxClusters !== undefined) {
    spec.clusters = { ...(spec.clusters ?? {}) };
    if (flags.minClusters !== undefined) spec.clusters.min = flags.minClusters;
    if (flags.maxClusters !== undefined) spec.clusters.max = flags.maxClusters;
  }
  if (flags.retention !== undefined) spec.retention = flags.retention;
  const workers: [string, string][] = [
    ["workersInput", "input"],
    ["workersSystem", "system"],
    ["initialWorkers", "initial"],
    ["workerCpu", "cpu"],
    ["workerMemory", "memory"],
    ["workerPods", "pods"],
  ];
  for (const [flag, key] of workers)
    if (flags[flag] !== undefined) spec.workers = { ...(spec.workers ?? {}), [key]: flags[flag] };
  const policy: Policy | null | undefined = applyAutoscaling(spec.autoscaling ?? null, flags, target);
  if (policy !== undefined) spec.autoscaling = policy;
  // The API wants the policy to count the same workers as the template: keep them in step.
  if (spec.autoscaling) {
    spec.autoscaling.workers = {
      ...spec.autoscaling.workers,
      input: spec.workers?.input ?? "wn_num",
      system: spec.workers?.system ?? "wn",
    };
  }
}

function templateCommands(parent: Command, def: KindDef, name: string, aliases: string[]): void {
  const path = `kube ${name}`;
  const createExample = `${path} create -f im-cluster.yaml --input wn_cpus=4 --max-clusters 3 --autoscale 1:5 small-k8s`;
  const group = parent
    .command(name)
    .aliases(aliases)
    .description(
      `Manage ${def.kind} objects: the clusters Krake may create for ` +
        (def.namespaced ? "the applications of its namespace" : "applications of every namespace"),
    )
    .addHelpText("after", example(createExample, `${path} list`));

  templateOptions(
    leaf(
      group
        .command("create")
        .argument("<name>")
        .description(`Create ${aKind(def)} from a TOSCA template`),
      {
        namespaced: def.namespaced,
      },
    ),
    false,
  )
    .addHelpText(
      "after",
      example(
        createExample,
        `${path} create -f im-cluster.yaml -L location=DE -l tier=burst --worker-cpu 4 --worker-memory 7Gi burst`,
        `${path} create --spec-file template-spec.yaml small-k8s`,
      ),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        checkAutoscalingFlags(flags);
        const spec = flags.specFile ? readSpecFile(flags.specFile) : {};
        const tosca = flags.file ? readYamlMapping(flags.file, "--file") : undefined;
        if (!tosca && !spec.tosca)
          throw new CliError(
            "a template needs a TOSCA template: give -f FILE (or a --spec-file with a tosca)",
            2,
          );
        applyTemplateFlags(spec, flags, tosca, { name: `the new ${def.kind}`, creating: true });
        const ctx = context(flags);
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: { name: objName, ...(def.namespaced ? { namespace: ctx.namespace } : {}) },
          spec,
        };
        print(def, await ctx.client.kind(def).create(body, nsOf(def, ctx)), ctx.format);
      }),
    );

  templateOptions(
    leaf(
      group
        .command("update")
        .argument("<name>")
        .description(`Update ${aKind(def)} (GET, modify, PUT)`),
      {
        namespaced: def.namespaced,
      },
    ),
    true,
  )
    .addHelpText(
      "after",
      example(
        `${path} update --max-clusters 5 --input wn_cpus=8 --worker-cpu 8 small-k8s`,
        `${path} update -f im-cluster-v2.yaml small-k8s`,
        `${path} update --no-autoscale small-k8s`,
      ),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        checkAutoscalingFlags(flags);
        const specFile = flags.specFile ? readSpecFile(flags.specFile) : undefined;
        const tosca = flags.file ? readYamlMapping(flags.file, "--file") : undefined;
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, objName, (obj: Resource) => {
          if (specFile) obj.spec = specFile;
          applyTemplateFlags(obj.spec, flags, tosca, { name: `${def.kind} ${objName}`, creating: false });
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, path);
}

export function kubeCommand(program: Command): Command {
  const kube = program
    .command("kubernetes")
    .alias("kube")
    .description("Kubernetes applications, clusters and cluster templates")
    .addHelpText("after", example("kube cluster list", "kube app get echo-demo"));
  applicationCommands(kube);
  clusterCommands(kube);
  templateCommands(kube, ClusterTemplate, "template", ["tmpl"]);
  templateCommands(kube, GlobalClusterTemplate, "gtemplate", ["gtmpl"]);
  return kube;
}
