/**
 * What every leaf command shares: `--config`, `-o`, `-n`/`-a` where they apply, client set-up and the
 * printing of results and errors.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { KrakeClient, type KindClient } from "../../client/index.js";
import type { KindDef, Resource } from "../../resources/kind.js";
import { loadConfig, type LoadedConfig, type TlsConfig } from "./config.js";
import { splitValues } from "./argv.js";
import { CliError, fail } from "./errors.js";
import { credentialsPath, loginTokenSource } from "./credentials.js";
import { readFileOrFail } from "./files.js";
import { FORMATS, parseFormat, render, type Format } from "./output.js";

export interface LeafFlags {
  config?: string;
  output?: string;
  namespace?: string;
  all?: boolean;
  password?: string;
  passwordStdin?: boolean;
  [flag: string]: any;
}

export interface Context {
  config: LoadedConfig;
  client: KrakeClient;
  format: Format;
  /** The namespace for namespaced kinds: `-n`, else the config's `user`. */
  namespace: string;
}

/** Adds the flags every leaf takes. */
export function leaf(cmd: Command, opts: { namespaced?: boolean; list?: boolean } = {}): Command {
  cmd
    .option("--config <path>", "configuration file (default: rok.yaml/krakectl.yaml lookup, see docs)")
    .addOption(new Option("-o, --output <format>", "output format").choices([...FORMATS]).default("table"));
  if (opts.namespaced) cmd.option("-n, --namespace <ns>", "namespace (default: the config's user)");
  if (opts.namespaced && opts.list) cmd.option("-a, --all", "list across all namespaces");
  return cmd;
}

export function context(flags: LeafFlags): Context {
  const config = loadConfig(flags.config);
  for (const w of config.warnings) process.stderr.write(`Warning: ${w}\n`);
  return {
    config,
    client: new KrakeClient({
      url: config.api_url,
      token: config.token ?? undefined,
      // No KRAKE_TOKEN or `token:`: the tokens of `rok login`, if any.
      tokenSource: config.token ? undefined : (loginTokenSource(credentialsPath(config), config.api_url) ?? undefined),
      tls: config.tls?.enabled ? tlsFiles(config.tls) : undefined,
    }),
    format: parseFormat(flags.output),
    namespace: flags.namespace ?? config.user,
  };
}

function tlsFiles(tls: TlsConfig) {
  const read = (key: "client_ca" | "client_cert" | "client_key") => {
    const path = tls[key];
    return path ? readFileOrFail(path, `tls.${key}`) : undefined;
  };
  if (Boolean(tls.client_cert) !== Boolean(tls.client_key))
    throw new CliError("tls.client_cert and tls.client_key must be given together");
  return { ca: read("client_ca"), cert: read("client_cert"), key: read("client_key") };
}

export function print(def: KindDef, data: Resource | Resource[], format: Format): void {
  process.stdout.write(render(def, data, format));
}

/** Wraps an action so every failure ends as one readable line and the right exit code. */
export function run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

/** The namespace argument for a kind: null for global kinds. */
export function nsOf(def: KindDef, ctx: Context): string | null {
  return def.namespaced ? ctx.namespace : null;
}

/** `list`, `get NAME` and `delete NAME`, the same for most kinds. */
export function addReadDelete(parent: Command, def: KindDef, example: string): void {
  addList(parent, def, example);
  addGet(parent, def, example);
  addDelete(parent, def, example);
}

export function addList(parent: Command, def: KindDef, example: string): void {
  leaf(parent.command("list").description(`List ${def.kind} objects`), {
    namespaced: def.namespaced,
    list: true,
  })
    .addHelpText("after", `\nExample:\n  $ rok ${example} list${def.namespaced ? " -a" : ""}`)
    .action(
      run(async (flags: LeafFlags) => {
        const ctx = context(flags);
        const kc: KindClient = ctx.client.kind(def);
        const res = def.namespaced && flags.all ? await kc.listAll() : await kc.list(nsOf(def, ctx));
        print(def, res.items, ctx.format);
      }),
    );
}

/**
 * `get NAME`. `forTable` may enrich what a table shows (e.g. a cluster's inherited labels); json and yaml
 * always print the object as the API returned it.
 */
export function addGet(
  parent: Command,
  def: KindDef,
  example: string,
  forTable?: (ctx: Context, obj: Resource) => Promise<Resource>,
): void {
  leaf(parent.command("get").argument("<name>").description(`Show one ${def.kind}`), {
    namespaced: def.namespaced,
  })
    .addHelpText("after", `\nExample:\n  $ rok ${example} get my-${def.plural.slice(0, -1)} -o json`)
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const obj = await ctx.client.kind(def).get(name, nsOf(def, ctx));
        const table = ctx.format === "table" || ctx.format === "wide";
        print(def, table && forTable ? await forTable(ctx, obj) : obj, ctx.format);
      }),
    );
}

export function addDelete(parent: Command, def: KindDef, example: string): void {
  leaf(parent.command("delete").argument("<name>").description(`Delete one ${def.kind}`), {
    namespaced: def.namespaced,
  })
    .addHelpText("after", `\nExample:\n  $ rok ${example} delete my-${def.plural.slice(0, -1)}`)
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const ctx = context(flags);
        print(def, await ctx.client.kind(def).delete(name, nsOf(def, ctx)), ctx.format);
      }),
    );
}

/** GET, let `modify` change the object, PUT the whole object back (cli.md §2: carries resource_version). */
export async function getModifyPut(
  ctx: Context,
  def: KindDef,
  name: string,
  modify: (o: Resource) => Promise<void> | void,
) {
  const kc = ctx.client.kind(def);
  const obj = await kc.get(name, nsOf(def, ctx));
  await modify(obj);
  return kc.update(obj);
}

/** `-l K=V` (repeatable) → a labels map. */
export function parseLabels(values: string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const v of values ?? []) {
    const i = v.indexOf("=");
    if (i <= 0) throw new CliError(`invalid label '${v}': expected KEY=VALUE`);
    labels[v.slice(0, i)] = v.slice(i + 1);
  }
  return labels;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--metric NAME VALUE` (folded by argv.ts) → accumulated [name, value] pairs. */
export function pair(value: string, previous: [string, string][] = []): [string, string][] {
  const values = splitValues(value);
  if (values.length !== 2)
    throw new InvalidArgumentError(`expected two values (NAME VALUE), got '${values.join(" ")}'`);
  return [...previous, [values[0], values[1]]];
}

/** A flag taking several values (`-i K=V K=V`, `--allowed-values 1 2`), repeatable: all values in order. */
export function many(value: string, previous: string[] = []): string[] {
  return [...previous, ...splitValues(value)];
}

export function toNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new CliError(`${flag}: expected a number, got '${value}'`);
  return n;
}

export interface MetricRef {
  name: string;
  weight: number;
  namespaced: boolean;
}

/** `--metric M W` (namespaced) and `--global-metric M W` → metric references; undefined when neither is given. */
export function metricRefs(flags: LeafFlags): MetricRef[] | undefined {
  if (!flags.metric && !flags.globalMetric) return undefined;
  const refs = (pairs: [string, string][] | undefined, namespaced: boolean) =>
    (pairs ?? []).map(([name, weight]) => ({ name, weight: toNumber(weight, "metric weight"), namespaced }));
  return [...refs(flags.metric, true), ...refs(flags.globalMetric, false)];
}

export function toInteger(value: string, flag: string): number {
  const n = toNumber(value, flag);
  if (!Number.isSafeInteger(n)) throw new CliError(`${flag}: expected an integer, got '${value}'`);
  return n;
}

/** "a Cluster", "an Application": help texts name kinds with the right article. */
export function aKind(def: KindDef): string {
  return `${/^[AEIOU]/.test(def.kind) ? "an" : "a"} ${def.kind}`;
}
