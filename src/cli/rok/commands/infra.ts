/**
 * `rok infrastructure` (`infra`): infrastructure providers and clouds, global and namespaced (cli.md §2.3).
 */
import { Command, Option } from "commander";
import type { KindDef, Resource } from "../../../resources/kind.js";
import {
  Cloud,
  GlobalCloud,
  GlobalInfrastructureProvider,
  InfrastructureProvider,
} from "../../../resources/registry.js";
import {
  aKind,
  addReadDelete,
  collect,
  context,
  getModifyPut,
  leaf,
  metricRefs,
  nsOf,
  pair,
  parseLabels,
  print,
  run,
  type LeafFlags,
} from "../common.js";
import { CliError } from "../errors.js";
import { obtainPassword } from "../password.js";

const example = (cmd: string) => `\nExample:\n  $ rok ${cmd}\n`;

function passwordOptions(cmd: Command): Command {
  return cmd
    .option("--password <password>", "password (prompted without echo on a terminal when missing)")
    .option("--password-stdin", "read the password from standard input");
}

// ---------------------------------------------------------------------------------------------------------
// Providers

function imFlags(cmd: Command, register: boolean): Command {
  if (register) {
    cmd.addOption(new Option("--type <type>", "provider type").choices(["im"]).makeOptionMandatory());
    cmd.requiredOption("--url <url>", "URL of the IM (Infrastructure Manager) API");
  } else cmd.option("--url <url>", "URL of the IM API");
  cmd.option("--username <username>", "IM username").option("--token <token>", "IM token");
  return passwordOptions(cmd);
}

/**
 * IM authenticates with username and password or with a token. A password is asked for only when a
 * username is in play and no token replaces it; otherwise the server's own check (422) speaks.
 */
function providerNeedsPassword(im: { username?: string | null; token?: string | null }): boolean {
  return Boolean(im.username) && !im.token;
}

function providerCommands(parent: Command, def: KindDef, name: string, aliases: string[]): void {
  const path = `infra ${aliases[0]}`;
  const group = parent
    .command(name)
    .aliases(aliases)
    .description(`Manage ${def.kind} objects`)
    .addHelpText(
      "after",
      example(
        `${path} register --type im --url http://im.example --username user --password pass my-provider`,
      ),
    );

  imFlags(
    leaf(group.command("register").argument("<name>").description(`Register ${aKind(def)}`), {
      namespaced: def.namespaced,
    }),
    true,
  )
    .addHelpText(
      "after",
      example(
        `${path} register --type im --url http://localhost:8800 --username test --password test im-provider`,
      ),
    )
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const im = {
          url: flags.url,
          username: flags.username ?? null,
          password: null as string | null,
          token: flags.token ?? null,
        };
        if (flags.password !== undefined || flags.passwordStdin || providerNeedsPassword(im)) {
          im.password = await obtainPassword(flags, `${def.kind} ${objName}`);
        }
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: { name: objName, ...(def.namespaced ? { namespace: ctx.namespace } : {}) },
          spec: { type: flags.type, [flags.type]: im },
        };
        print(def, await ctx.client.kind(def).create(body, nsOf(def, ctx)), ctx.format);
      }),
    );

  imFlags(
    leaf(group.command("update").argument("<name>").description(`Update ${aKind(def)} (GET, modify, PUT)`), {
      namespaced: def.namespaced,
    }),
    false,
  )
    .addHelpText("after", example(`${path} update --url http://updated.example --password pass my-provider`))
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, objName, async (obj: Resource) => {
          const im = obj.spec[obj.spec.type];
          if (flags.url !== undefined) im.url = flags.url;
          if (flags.username !== undefined) im.username = flags.username;
          if (flags.token !== undefined) im.token = flags.token;
          // krakectl always (re)sets the password on update; token-only providers have none to set.
          if (flags.password !== undefined || flags.passwordStdin || providerNeedsPassword(im)) {
            im.password = await obtainPassword(flags, `${def.kind} ${objName}`);
          }
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, path);
}

// ---------------------------------------------------------------------------------------------------------
// Clouds

function cloudFlags(cmd: Command, register: boolean, namespaced: boolean): Command {
  if (register) {
    cmd.addOption(new Option("--type <type>", "cloud type").choices(["openstack"]).makeOptionMandatory());
    cmd.requiredOption("--url <url>", "OpenStack identity (Keystone) URL");
    cmd.requiredOption("--username <username>", "OpenStack username");
    cmd.requiredOption("--project <name>", "OpenStack project name");
    cmd.option("--domain-name <name>", "OpenStack user domain name", "Default");
    cmd.option("--domain-id <id>", "OpenStack project domain id", "default");
  } else {
    cmd.option("--url <url>", "OpenStack identity (Keystone) URL");
    cmd.option("--username <username>", "OpenStack username");
    cmd.option("--project <name>", "OpenStack project name");
    cmd.option("--domain-name <name>", "OpenStack user domain name");
    cmd.option("--domain-id <id>", "OpenStack project domain id");
  }
  if (namespaced) {
    cmd.option("--infra-provider <name>", "namespaced infrastructure provider of the cloud");
    cmd.option("--metric <metric>", "NAME WEIGHT: a metric and its weight (repeatable)", pair);
  }
  const globalProvider = "global infrastructure provider of the cloud";
  if (register && !namespaced) cmd.requiredOption("--global-infra-provider <name>", globalProvider);
  else cmd.option("--global-infra-provider <name>", globalProvider);
  cmd.option("--global-metric <metric>", "NAME WEIGHT: a global metric and its weight (repeatable)", pair);
  cmd.option("-l, --label <key=value>", "label (repeatable)", collect);
  return passwordOptions(cmd);
}

/** `{name, namespaced}` of the provider flags, or undefined when none is given; both at once is an error. */
function providerRef(flags: LeafFlags): { name: string; namespaced: boolean } | undefined {
  if (flags.infraProvider && flags.globalInfraProvider) {
    throw new CliError("use either --infra-provider or --global-infra-provider, not both");
  }
  if (flags.infraProvider) return { name: flags.infraProvider, namespaced: true };
  if (flags.globalInfraProvider) return { name: flags.globalInfraProvider, namespaced: false };
  return undefined;
}

function cloudCommands(parent: Command, def: KindDef, name: string, aliases: string[]): void {
  const path = `infra ${aliases[0] ?? name}`;
  const providerFlag = def.namespaced
    ? "--infra-provider im-provider"
    : "--global-infra-provider im-provider";
  const registerExample = `${path} register --type openstack --url http://keystone.example:5000/v3 --project p --username u --password pw ${providerFlag} os-cloud`;
  const group = parent
    .command(name)
    .aliases(aliases)
    .description(`Manage ${def.kind} objects`)
    .addHelpText("after", example(registerExample));

  cloudFlags(
    leaf(group.command("register").argument("<name>").description(`Register ${aKind(def)}`), {
      namespaced: def.namespaced,
    }),
    true,
    def.namespaced,
  )
    .addHelpText("after", example(registerExample))
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const provider = providerRef(flags);
        if (!provider) throw new CliError("one of --infra-provider or --global-infra-provider is required");
        const password = await obtainPassword(flags, `${def.kind} ${objName}`);
        const body = {
          api: def.group,
          kind: def.kind,
          metadata: {
            name: objName,
            labels: parseLabels(flags.label),
            ...(def.namespaced ? { namespace: ctx.namespace } : {}),
          },
          spec: {
            type: flags.type,
            [flags.type]: {
              url: flags.url,
              auth: {
                type: "password",
                password: {
                  version: "3",
                  user: { username: flags.username, password, domain_name: flags.domainName },
                  project: { name: flags.project, domain_id: flags.domainId },
                },
              },
              metrics: metricRefs(flags) ?? [],
              infrastructure_provider: provider,
            },
          },
        };
        print(def, await ctx.client.kind(def).create(body, nsOf(def, ctx)), ctx.format);
      }),
    );

  cloudFlags(
    leaf(group.command("update").argument("<name>").description(`Update ${aKind(def)} (GET, modify, PUT)`), {
      namespaced: def.namespaced,
    }),
    false,
    def.namespaced,
  )
    .addHelpText("after", example(`${path} update --url http://updated.example --password pw os-cloud`))
    .action(
      run(async (objName: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const provider = providerRef(flags);
        const updated = await getModifyPut(ctx, def, objName, async (obj: Resource) => {
          const spec = obj.spec[obj.spec.type];
          const auth = spec.auth[spec.auth.type];
          if (flags.url !== undefined) spec.url = flags.url;
          if (flags.username !== undefined) auth.user.username = flags.username;
          if (flags.domainName !== undefined) auth.user.domain_name = flags.domainName;
          if (flags.project !== undefined) auth.project.name = flags.project;
          if (flags.domainId !== undefined) auth.project.domain_id = flags.domainId;
          if (provider) spec.infrastructure_provider = provider;
          // Labels and metrics given on update replace the existing ones (krakectl).
          const metrics = metricRefs(flags);
          if (metrics) spec.metrics = metrics;
          if (flags.label) obj.metadata.labels = parseLabels(flags.label);
          // krakectl always (re)sets the password on update.
          auth.user.password = await obtainPassword(flags, `${def.kind} ${objName}`);
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, path);
}

export function infraCommand(program: Command): Command {
  const infra = program
    .command("infrastructure")
    .alias("infra")
    .description("Infrastructure providers and clouds")
    .addHelpText("after", example("infra provider list -a"));
  providerCommands(infra, GlobalInfrastructureProvider, "globalinfrastructureprovider", ["gprovider", "gip"]);
  providerCommands(infra, InfrastructureProvider, "infrastructureprovider", ["provider", "ip"]);
  cloudCommands(infra, GlobalCloud, "globalcloud", ["gcloud", "gc"]);
  cloudCommands(infra, Cloud, "cloud", []);
  return infra;
}
