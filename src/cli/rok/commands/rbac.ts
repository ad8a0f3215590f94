/**
 * `rok core role|rolebinding`: Krake's RBAC objects (krakectl has no commands for them; we add them so that
 * the RBAC authorizer can be administered without curl).
 */
import { Command } from "commander";
import type { Resource } from "../../../resources/kind.js";
import { Role, RoleBinding } from "../../../resources/registry.js";
import {
  addReadDelete,
  collect,
  context,
  getModifyPut,
  leaf,
  parseLabels,
  print,
  run,
  type LeafFlags,
} from "../common.js";
import { CliError } from "../errors.js";
import { readYamlMapping } from "../files.js";

const example = (...cmds: string[]) =>
  `\nExample${cmds.length > 1 ? "s" : ""}:\n${cmds.map((c) => `  $ rok ${c}\n`).join("")}`;

interface Rule {
  api: string;
  resources: string[];
  namespaces: string[];
  verbs: string[];
}

const RULE_SYNTAX = "API:RESOURCES:NAMESPACES:VERBS, lists comma-separated, * for all";

/** What `*` in the verbs of a --rule stands for: every verb of api.md §12's mapping. */
const ALL_VERBS = ["create", "get", "list", "update", "delete"] as const;

/** `kubernetes:applications,clusters:team-a:get,list` → a rule. */
export function parseRule(text: string): Rule {
  const parts = text.split(":");
  if (parts.length !== 4 || parts.some((p) => p.trim() === "")) {
    throw new CliError(`--rule: expected ${RULE_SYNTAX}; got '${text}'`);
  }
  const list = (p: string) =>
    p
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  // RBAC spells "every API, resource, namespace" as "" (api.md §12); a literal "*" would match nothing.
  const all = (items: string[]) => items.map((item) => (item === "*" ? "" : item));
  const verbs = list(parts[3]);
  return {
    api: parts[0].trim() === "*" ? "" : parts[0].trim(),
    resources: all(list(parts[1])),
    namespaces: all(list(parts[2])),
    verbs: verbs.includes("*") ? [...ALL_VERBS] : verbs,
  };
}

/** `-f role.yaml`: a whole Role document or just `{rules: [...]}`. */
function rulesFromFile(path: string): Rule[] {
  const doc = readYamlMapping(path, "--file");
  if (!Array.isArray(doc.rules)) throw new CliError(`--file: ${path} has no 'rules' list`);
  return doc.rules as Rule[];
}

function roleCommands(core: Command): void {
  const def = Role;
  const group = core
    .command("role")
    .description("Manage RBAC roles (what may be done where)")
    .addHelpText(
      "after",
      example("core role create --rule 'kubernetes:applications,clusters:team-a:get,list' team-a-reader"),
    );

  leaf(group.command("create").argument("<name>").description("Create a role"))
    .option("--rule <rule>", `a rule: ${RULE_SYNTAX} (repeatable)`, collect)
    .option("-f, --file <file>", "YAML file with a 'rules' list")
    .option("-l, --label <key=value>", "label (repeatable)", collect)
    .addHelpText(
      "after",
      example(
        "core role create --rule 'kubernetes:applications,clusters:team-a:get,list,list_all' team-a-reader",
        "core role create --rule '*:*:*:*' --rule 'core:roles:*:get' admin-like",
        "core role create -f role.yaml ops",
      ),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const rules = [
          ...(flags.file ? rulesFromFile(flags.file) : []),
          ...(flags.rule ?? []).map(parseRule),
        ];
        if (rules.length === 0) throw new CliError("a role needs at least one --rule or a --file with rules");
        const ctx = context(flags);
        const body = {
          api: "core",
          kind: "Role",
          metadata: { name, labels: parseLabels(flags.label) },
          rules,
        };
        print(def, await ctx.client.kind(def).create(body), ctx.format);
      }),
    );

  leaf(group.command("update").argument("<name>").description("Update a role (GET, modify, PUT)"))
    .option("--rule <rule>", `replace the rules by these: ${RULE_SYNTAX} (repeatable)`, collect)
    .option("--add-rule <rule>", "append a rule (repeatable)", collect)
    .option("-f, --file <file>", "replace the rules by the 'rules' list of this file")
    .option("-l, --label <key=value>", "label to add or change (repeatable)", collect)
    .addHelpText(
      "after",
      example("core role update --add-rule 'kubernetes:applications:team-b:get' team-a-reader"),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        if (flags.rule && flags.file) throw new CliError("use either --rule or --file, not both");
        const replace = flags.file
          ? rulesFromFile(flags.file)
          : flags.rule
            ? flags.rule.map(parseRule)
            : null;
        const added = (flags.addRule ?? []).map(parseRule);
        const labels = parseLabels(flags.label);
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, name, (obj: Resource) => {
          if (replace) obj.rules = replace;
          obj.rules.push(...added);
          Object.assign(obj.metadata.labels, labels);
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, "core role");
}

function bindingCommands(core: Command): void {
  const def = RoleBinding;
  const group = core
    .command("rolebinding")
    .description("Manage RBAC role bindings (who has which roles)")
    .addHelpText("after", example("core rolebinding create --user alice --role team-a-reader alice-reads"));

  leaf(group.command("create").argument("<name>").description("Bind roles to users"))
    .requiredOption("--user <user>", "user (repeatable)", collect)
    .requiredOption("--role <role>", "role (repeatable)", collect)
    .option("-l, --label <key=value>", "label (repeatable)", collect)
    .addHelpText(
      "after",
      example("core rolebinding create --user alice --user bob --role team-a-reader team-a"),
    )
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const ctx = context(flags);
        const body = {
          api: "core",
          kind: "RoleBinding",
          metadata: { name, labels: parseLabels(flags.label) },
          users: flags.user,
          roles: flags.role,
        };
        print(def, await ctx.client.kind(def).create(body), ctx.format);
      }),
    );

  leaf(group.command("update").argument("<name>").description("Add or remove users and roles"))
    .option("--user <user>", "add a user (repeatable)", collect)
    .option("--role <role>", "add a role (repeatable)", collect)
    .option("--remove-user <user>", "remove a user (repeatable)", collect)
    .option("--remove-role <role>", "remove a role (repeatable)", collect)
    .option("-l, --label <key=value>", "label to add or change (repeatable)", collect)
    .addHelpText("after", example("core rolebinding update --user carol --remove-user bob team-a"))
    .action(
      run(async (name: string, flags: LeafFlags) => {
        const labels = parseLabels(flags.label);
        const ctx = context(flags);
        const updated = await getModifyPut(ctx, def, name, (obj: Resource) => {
          const edit = (list: string[], add: string[] = [], remove: string[] = []) =>
            [...list, ...add.filter((x) => !list.includes(x))].filter((x) => !remove.includes(x));
          obj.users = edit(obj.users, flags.user, flags.removeUser);
          obj.roles = edit(obj.roles, flags.role, flags.removeRole);
          Object.assign(obj.metadata.labels, labels);
        });
        print(def, updated, ctx.format);
      }),
    );

  addReadDelete(group, def, "core rolebinding");
}

export function rbacCommands(core: Command): void {
  roleCommands(core);
  bindingCommands(core);
}
