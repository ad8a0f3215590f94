/**
 * What every leaf command shares: `--config`, `-o`, `-n`/`-a` where they apply, client set-up and the
 * printing of results and errors.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { KrakeClient, type KindClient } from "../../client/index.js";
import type { KindDef, Resource } from "../../resources/kind.js";
import { loadConfig, type LoadedConfig } from "./config.js";
import { CliError, fail } from "./errors.js";
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
  if (config.tls?.enabled && (config.tls.client_cert || config.tls.client_key || config.tls.client_ca)) {
    throw new CliError("TLS client certificates in the configuration are not supported by rok yet");
  }
  return {
    config,
    client: new KrakeClient({ url: config.api_url }),
    format: parseFormat(flags.output),
    namespace: flags.namespace ?? config.user,
  };
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

/** `list`, `get NAME` and `delete NAME`, the same for every kind. */
export function addReadDelete(parent: Command, def: KindDef, example: string): void {
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
  leaf(parent.command("get").argument("<name>").description(`Show one ${def.kind}`), {
    namespaced: def.namespaced,
  })
    .addHelpText("after", `\nExample:\n  $ rok ${example} get my-${def.plural.slice(0, -1)} -o json`)
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const ctx = context(flags);
        print(def, await ctx.client.kind(def).get(name, nsOf(def, ctx)), ctx.format);
      }),
    );
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

/**
 * Flags taking exactly two values (`--metric NAME WEIGHT`), as argparse's nargs=2. commander has no such
 * arity, so main.ts joins the two tokens with this separator before parsing and `pair` splits them again.
 */
export const PAIR_SEPARATOR = "\u001f";
export const PAIR_FLAGS = ["--metric", "--global-metric", "-m"];

export function pair(value: string, previous: [string, string][] = []): [string, string][] {
  const i = value.indexOf(PAIR_SEPARATOR);
  if (i < 0) throw new InvalidArgumentError(`expected two values (NAME VALUE), got '${value}'`);
  return [...previous, [value.slice(0, i), value.slice(i + 1)]];
}

/** Joins the two values of pair flags into one argv token (see PAIR_SEPARATOR). */
export function joinPairs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (PAIR_FLAGS.includes(a) && i + 2 < argv.length) {
      out.push(a, `${argv[i + 1]}${PAIR_SEPARATOR}${argv[i + 2]}`);
      i += 2;
    } else out.push(a);
  }
  return out;
}

export function toNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new CliError(`${flag}: expected a number, got '${value}'`);
  return n;
}
