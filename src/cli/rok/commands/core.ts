/**
 * `rok core`: metrics providers and metrics, global and namespaced (cli.md §2.5).
 */
import { Command, Option } from "commander";
import type { KindDef, Resource } from "../../../resources/kind.js";
import {
  GlobalMetric,
  GlobalMetricsProvider,
  Lease,
  Metric,
  MetricsProvider,
} from "../../../resources/registry.js";
import {
  aKind,
  addGet,
  addList,
  addReadDelete,
  context,
  getModifyPut,
  leaf,
  many,
  nsOf,
  pair,
  print,
  run,
  toNumber,
  type LeafFlags,
} from "../common.js";
import { CliError } from "../errors.js";
import { rbacCommands } from "./rbac.js";

const example = (cmd: string) => `\nExample:\n  $ rok ${cmd}\n`;

const MP_TYPES = ["prometheus", "static", "kafka", "influx"] as const;
type MpType = (typeof MP_TYPES)[number];

/** Which flag fills which spec field, per provider type; all of them are required on create. */
const MP_FIELDS: Record<MpType, [flag: string, attr: string, field: string][]> = {
  prometheus: [["--url", "url", "url"]],
  static: [["--metric", "metric", "metrics"]],
  kafka: [
    ["--url", "url", "url"],
    ["--comparison-column", "comparisonColumn", "comparison_column"],
    ["--value-column", "valueColumn", "value_column"],
    ["--table", "table", "table"],
  ],
  influx: [
    ["--url", "url", "url"],
    ["--token", "token", "token"],
    ["--org", "org", "org"],
    ["--bucket", "bucket", "bucket"],
  ],
};
const ALL_MP_FLAGS = [
  ...new Map(
    Object.values(MP_FIELDS)
      .flat()
      .map((f) => [f[1], f[0]]),
  ).entries(),
];

function mpValue(attr: string, flags: LeafFlags): unknown {
  if (attr !== "metric") return flags[attr];
  const metrics: Record<string, number> = {};
  for (const [name, value] of flags.metric as [string, string][])
    metrics[name] = toNumber(value, "--metric value");
  return metrics;
}

/** Refuses flags that the provider type does not use, so typos do not silently do nothing. */
function checkForeignFlags(type: MpType, flags: LeafFlags): void {
  const own = new Set(MP_FIELDS[type].map((f) => f[1]));
  for (const [attr, flag] of ALL_MP_FLAGS) {
    if (flags[attr] !== undefined && !own.has(attr))
      throw new CliError(`Metrics provider type '${type}' does not take ${flag}`);
  }
}

function mpFlags(cmd: Command, create: boolean): Command {
  if (create)
    cmd.addOption(
      new Option("--type <type>", "metrics provider type").choices([...MP_TYPES]).makeOptionMandatory(),
    );
  return cmd
    .option("--url <url>", "URL of the provider (prometheus, kafka, influx)")
    .option("-m, --metric <metric>", "NAME VALUE: a static metric and its value (static, repeatable)", pair)
    .option("--comparison-column <column>", "kafka: column holding the metric name")
    .option("--value-column <column>", "kafka: column holding the value")
    .option("--table <table>", "kafka: table (KSQL) to read")
    .option("--token <token>", "influx: API token")
    .option("--org <org>", "influx: organisation")
    .option("--bucket <bucket>", "influx: bucket");
}

function providerCommands(parent: Command, def: KindDef, name: string, alias: string): void {
  const path = `core ${alias}`;
  const group = parent
    .command(name)
    .alias(alias)
    .description(`Manage ${def.kind} objects`)
    .addHelpText(
      "after",
      example(`${path} create --type prometheus --url http://prometheus:9090 my-provider`),
    );

  mpFlags(
    leaf(group.command("create").argument("<name>").description(`Create ${aKind(def)}`), {
      namespaced: def.namespaced,
    }),
    true,
  )
    .addHelpText(
      "after",
      example(
        `${path} create --type static -m electricity_cost_1 0.9 -m green_energy_ratio_1 0.1 static_provider`,
      ),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const type = flags.type as MpType;
        checkForeignFlags(type, flags);
        const body: Record<string, unknown> = {};
        for (const [flag, attr, field] of MP_FIELDS[type]) {
          if (flags[attr] === undefined)
            throw new CliError(`Metrics provider type '${type}' requires ${flag} to be specified`);
          body[field] = mpValue(attr, flags);
        }
        const ctx = context(flags);
        const obj = {
          api: def.group,
          kind: def.kind,
          metadata: { name: objName, ...(def.namespaced ? { namespace: ctx.namespace } : {}) },
          spec: { type, [type]: body },
        };
        print(def, await ctx.client.kind(def).create(obj, nsOf(def, ctx)), ctx.format);
      }),
    );

  mpFlags(
    leaf(group.command("update").argument("<name>").description(`Update ${aKind(def)} (GET, modify, PUT)`), {
      namespaced: def.namespaced,
    }),
    false,
  )
    .addHelpText(
      "after",
      example(
        `${path} update static_provider --metric electricity_cost_1 0.1 --metric green_energy_ratio_1 0.9`,
      ),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, objName, (obj: Resource) => {
          const type = obj.spec.type as MpType;
          checkForeignFlags(type, flags);
          const body = obj.spec[type];
          // Given values replace the stored ones; for static, the whole metrics map is replaced.
          for (const [, attr, field] of MP_FIELDS[type])
            if (flags[attr] !== undefined) body[field] = mpValue(attr, flags);
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, path);
}

function metricFlags(cmd: Command, create: boolean, providerFlag: string): Command {
  const opt = (flags: string, description: string) =>
    create ? cmd.requiredOption(flags, description) : cmd.option(flags, description);
  opt(`${providerFlag} <name>`, "metrics provider that serves the metric");
  opt("--min <value>", "smallest value of the metric");
  opt("--max <value>", "largest value of the metric");
  cmd.option("--allowed-values <values>", "allowed integer values (one or more)", many);
  cmd.option("--metric-name <name>", "name of the metric at the provider (default: NAME)");
  return cmd;
}

function allowedValues(values: string[] | undefined): number[] | undefined {
  if (!values) return undefined;
  const ints = values.map((v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
      throw new CliError(`--allowed-values: expected integers, got '${v}'`);
    return n;
  });
  return ints.sort((a, b) => a - b);
}

function metricCommands(
  parent: Command,
  def: KindDef,
  name: string,
  alias: string | null,
  providerFlag: string,
): void {
  const path = `core ${alias ?? name}`;
  const providerAttr = providerFlag === "--gmp-name" ? "gmpName" : "mpName";
  const group = parent.command(name).description(`Manage ${def.kind} objects`);
  if (alias) group.alias(alias);
  group.addHelpText(
    "after",
    example(`${path} create ${providerFlag} static_provider --min 0 --max 1 electricity_cost_1`),
  );

  metricFlags(
    leaf(group.command("create").argument("<name>").description(`Create ${aKind(def)}`), {
      namespaced: def.namespaced,
    }),
    true,
    providerFlag,
  )
    .addHelpText(
      "after",
      example(`${path} create ${providerFlag} static_provider --min 0 --max 1 electricity_cost_1`),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const spec = {
          allowed_values: allowedValues(flags.allowedValues) ?? [],
          max: toNumber(flags.max, "--max"),
          min: toNumber(flags.min, "--min"),
          provider: { name: flags[providerAttr], metric: flags.metricName ?? objName },
        };
        const ctx = context(flags);
        const obj = {
          api: def.group,
          kind: def.kind,
          metadata: { name: objName, ...(def.namespaced ? { namespace: ctx.namespace } : {}) },
          spec,
        };
        print(def, await ctx.client.kind(def).create(obj, nsOf(def, ctx)), ctx.format);
      }),
    );

  metricFlags(
    leaf(group.command("update").argument("<name>").description(`Update ${aKind(def)} (GET, modify, PUT)`), {
      namespaced: def.namespaced,
    }),
    false,
    providerFlag,
  )
    .addHelpText("after", example(`${path} update --max 2 electricity_cost_1`))
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, objName, (obj: Resource) => {
          const spec = obj.spec;
          const allowed = allowedValues(flags.allowedValues);
          if (allowed) spec.allowed_values = allowed;
          if (flags.min !== undefined) spec.min = toNumber(flags.min, "--min");
          if (flags.max !== undefined) spec.max = toNumber(flags.max, "--max");
          if (flags[providerAttr] !== undefined) spec.provider.name = flags[providerAttr];
          if (flags.metricName !== undefined) spec.provider.metric = flags.metricName;
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, path);
}

export function coreCommand(program: Command): Command {
  const core = program
    .command("core")
    .description("Metrics providers, metrics and RBAC roles")
    .addHelpText("after", example("core gmp get static_provider"));
  providerCommands(core, GlobalMetricsProvider, "globalmetricsprovider", "gmp");
  providerCommands(core, MetricsProvider, "metricsprovider", "mp");
  metricCommands(core, GlobalMetric, "globalmetric", "gm", "--gmp-name");
  metricCommands(core, Metric, "metric", null, "--mp-name");
  rbacCommands(core);
  const lease = core
    .command("lease")
    .description("Controller leader leases (read-only view of who leads which controller)")
    .addHelpText("after", example("core lease list"));
  addList(lease, Lease, "core lease");
  addGet(lease, Lease, "core lease");
  return core;
}
