/**
 * Reading the YAML files that flags name (`-f`, `-O`, `-k`): errors say which flag, which file and where,
 * and nothing is sent when a file is unreadable.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { CliError } from "./errors.js";

/** A file a flag or setting names (`label`), or a CliError saying which one and why it cannot be read. */
export function readFileOrFail(path: string, label: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(err));
    throw new CliError(`${label}: cannot read ${path}: ${why}`);
  }
}

const readText = (path: string, flag: string) => readFileOrFail(path, flag).toString("utf8");

/** Every non-empty document of a multi-document YAML file. */
export function readYamlDocuments(path: string, flag: string): unknown[] {
  const text = readText(path, flag);
  // YAML 1.1, as krakectl's PyYAML and kubectl read these files: `required: yes` is a boolean there, and a
  // file that worked with krakectl must mean the same with rok.
  const docs = parseAllDocuments(text, { version: "1.1", uniqueKeys: false });
  // parseAllDocuments returns an EmptyStream (not an array) for a file without documents.
  const list = Array.isArray(docs) ? docs : [];
  const out: unknown[] = [];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      const at = error.linePos?.[0];
      const where = at ? ` (line ${at.line}, column ${at.col})` : "";
      throw new CliError(`${flag}: ${path} is not valid YAML${where}: ${error.message.split("\n")[0]}`);
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    // `---` at the end of a file, or between documents, yields empty documents: krakectl's loader skips none,
    // but a null manifest entry can only be rejected by the server, so drop them here.
    if (value !== null && value !== undefined) out.push(value);
  }
  if (out.length === 0) throw new CliError(`${flag}: ${path} holds no YAML document`);
  return out;
}

/** Exactly one YAML mapping (a TOSCA template). */
export function readYamlMapping(path: string, flag: string): Record<string, unknown> {
  const docs = readYamlDocuments(path, flag);
  if (docs.length > 1)
    throw new CliError(`${flag}: ${path} holds ${docs.length} YAML documents; expected one`);
  const doc = docs[0];
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new CliError(`${flag}: ${path} must hold a YAML mapping`);
  return doc as Record<string, unknown>;
}
