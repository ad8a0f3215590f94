/**
 * Resources written as YAML documents (bootstrap files, Krake's `default_roles` in api.yaml): read, then
 * validated all together against their kinds before anything is written, so bad input writes nothing.
 */
import { readFile } from "node:fs/promises";
import YAML from "yaml";
import { kindByName } from "./registry.js";
import { load } from "./load.js";
import { formatPath } from "../api/errors.js";
import type { KindDef } from "./kind.js";

export interface Planned {
  def: KindDef;
  body: any;
  namespace: string | null;
  where: string;
}

export class BootstrapError extends Error {
  override name = "BootstrapError";
}

export async function readDocuments(files: string[]): Promise<{ doc: unknown; where: string }[]> {
  const docs: { doc: unknown; where: string }[] = [];
  for (const file of files) {
    const text =
      file === "-"
        ? await readStdin()
        : await readFile(file, "utf8").catch((err) => {
            throw new BootstrapError(`cannot read ${file}: ${(err as Error).message}`);
          });
    const parsed = YAML.parseAllDocuments(text);
    parsed.forEach((d, i) => {
      if (d.errors.length > 0) throw new BootstrapError(`${file}, document ${i + 1}: ${d.errors[0].message}`);
      // A bounded alias expansion: a "billion laughs" document must not take the CLI down.
      const doc = d.toJS({ maxAliasCount: 100 });
      if (doc !== null && doc !== undefined) docs.push({ doc, where: `${file}, document ${i + 1}` });
    });
  }
  return docs;
}

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

/** Validates every document against its kind; throws one error listing every problem. */
export function plan(docs: { doc: unknown; where: string }[], defaultNamespace: string): Planned[] {
  const problems: string[] = [];
  const planned: Planned[] = [];
  for (const { doc, where } of docs) {
    const kind = (doc as any)?.kind;
    const def = typeof kind === "string" ? kindByName(kind) : undefined;
    if (!def) {
      problems.push(
        `${where}: kind: ${kind === undefined ? "missing" : `unknown kind ${JSON.stringify(kind)}`}`,
      );
      continue;
    }
    const result = load(def.schema, doc, "create");
    for (const issue of result.issues)
      problems.push(`${where} (${def.kind}): ${formatPath(issue.path) || "(root)"}: ${issue.message}`);
    if (result.issues.length > 0) continue;
    const namespace = def.namespaced ? ((doc as any).metadata?.namespace ?? defaultNamespace) : null;
    planned.push({
      def,
      body: doc,
      namespace,
      where: `${where} (${def.kind} ${(doc as any).metadata.name})`,
    });
  }
  if (problems.length > 0)
    throw new BootstrapError(`nothing was written; fix these first:\n  ${problems.join("\n  ")}`);
  return planned;
}
