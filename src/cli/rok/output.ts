/**
 * `-o table|wide|json|yaml|name` (cli.md §1.3). json and yaml print what the API returned, secrets included
 * (api.md D6); tables go through redactSecrets first.
 */
import { stringify } from "yaml";
import type { Column, KindDef, Resource } from "../../resources/kind.js";
import { CliError } from "./errors.js";
import { redactSecrets } from "./redact.js";
import { renderTable } from "./table.js";

export const FORMATS = ["table", "wide", "json", "yaml", "name"] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string | undefined): Format {
  const f = (value ?? "table") as Format;
  if (!FORMATS.includes(f))
    throw new CliError(`unknown output format '${value}' (choose from ${FORMATS.join(", ")})`, 2);
  return f;
}

/** JSON with keys sorted at every level, so output is diffable and stable. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

/** `%Y-%m-%d %H:%M:%S` in UTC, as krakectl shows Krake's (UTC) datetimes. */
function formatDatetime(s: string): string {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** One table cell: None for null and empty containers, maps one `k: v` per line, lists one item per line. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") return DATETIME.test(value) ? formatDatetime(value) : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "None";
    return value.map((v) => (v && typeof v === "object" ? JSON.stringify(v) : cell(v))).join("\n");
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "None";
  return entries
    .map(([k, v]) => `${k}: ${v && typeof v === "object" ? JSON.stringify(v) : cell(v)}`)
    .join("\n");
}

function pick(obj: unknown, path: string): unknown {
  let cur: any = obj;
  for (const part of path.split(".")) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[part];
  }
  return cur;
}

function columnValue(col: Column, obj: Resource): unknown {
  try {
    return typeof col.value === "function" ? col.value(obj) : pick(obj, col.value);
  } catch {
    // A derived cell on an unexpected shape (e.g. a missing spec) shows as None rather than crashing.
    return undefined;
  }
}

/** Rows shown only in the single-object table, after the kind's columns (cli.md §3). */
function extraRows(obj: Resource): [string, unknown][] {
  switch (obj.kind) {
    case "GlobalMetricsProvider":
    case "MetricsProvider": {
      const body = obj.spec?.[obj.spec?.type];
      if (!body || typeof body !== "object") return [];
      return Object.entries(body).filter(([k]) => k !== "url");
    }
    case "GlobalMetric":
    case "Metric":
      return [["allowed_values", obj.spec?.allowed_values]];
    default:
      return [];
  }
}

function objectTable(def: KindDef, raw: Resource): string {
  const obj = redactSecrets(raw, def);
  const rows: string[][] = [];
  const seen = new Set<string>();
  const add = (header: string, value: unknown) => {
    if (seen.has(header)) return;
    seen.add(header);
    rows.push([header, cell(value)]);
  };
  add("name", obj.metadata?.name);
  if (def.namespaced) add("namespace", obj.metadata?.namespace);
  for (const col of def.columns) add(col.header, columnValue(col, obj));
  for (const [header, value] of extraRows(obj)) add(header, value);
  return renderTable(rows, false);
}

function listTable(def: KindDef, items: Resource[], wide: boolean): string {
  const cols = def.columns.filter((c) => !c.detail && (wide || !c.wide));
  const rows = [cols.map((c) => c.header)];
  for (const raw of items) {
    const obj = redactSecrets(raw, def);
    rows.push(cols.map((c) => cell(columnValue(c, obj))));
  }
  return renderTable(rows, true);
}

/** A plain value (not a resource) as json or yaml. */
export function renderValue(value: unknown, format: "json" | "yaml"): string {
  return format === "json"
    ? JSON.stringify(sortKeys(value), null, 2) + "\n"
    : stringify(sortKeys(value), { indent: 2 });
}

/** Formats one object (create/get/update/delete) or a list for stdout. */
export function render(def: KindDef, data: Resource | Resource[], format: Format): string {
  switch (format) {
    case "json":
    case "yaml":
      // Sorted like krakectl's json.dumps/yaml.safe_dump, so that both tools print the same documents.
      return renderValue(data, format);
    case "name":
      return (Array.isArray(data) ? data : [data]).map((o) => `${o.metadata.name}\n`).join("");
    case "wide":
    case "table":
      return Array.isArray(data) ? listTable(def, data, format === "wide") : objectTable(def, data);
  }
}
