/**
 * `/openapi.json`, derived from the kind definitions: the same schemas that validate requests describe them.
 */
import type { TSchema } from "@sinclair/typebox";
import { KINDS } from "../resources/registry.js";
import type { KindDef } from "../resources/kind.js";
import { VERSION } from "../version.js";
import { SECRET_MARKER } from "../resources/secrets.js";
import { REDACTED_HEADER, REDACTED_HEADER_VALUE, hasSecrets, secretsResource } from "./redaction.js";

const redactedHeader = {
  [REDACTED_HEADER]: {
    description: `Present ("${REDACTED_HEADER_VALUE}") when secret fields of the answer were replaced by "${SECRET_MARKER}" for a caller without get on <plural>/secrets.`,
    schema: { type: "string", enum: [REDACTED_HEADER_VALUE] },
  },
};

/** The kind's secret fields and the marker, described on its schema (dot paths; `*` is any element or key). */
function secretsDoc(def: KindDef, create: boolean) {
  if (!hasSecrets(def)) return {};
  return {
    "x-secrets": def.secrets,
    "x-secret-marker": SECRET_MARKER,
    description: create
      ? `Secret fields (x-secrets) may not hold the marker "${SECRET_MARKER}" on create (422).`
      : `Secret fields (x-secrets) read as "${SECRET_MARKER}" without get on ${secretsResource(def)}; a PUT that sends "${SECRET_MARKER}" in a secret field keeps the stored value.`,
  };
}

/** JSON Schema of a request body: fields with a default, read-only and subresource fields are optional. */
function inputSchema(schema: any): any {
  if (schema === null || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map(inputSchema);
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) out[k] = inputSchema(v);
  if (schema.type === "object" && schema.properties) {
    out.required = Object.entries(schema.properties)
      .filter(([, p]: [string, any]) => !("default" in p) && !p.readOnly && !p["x-subresource"])
      .map(([k]) => k);
    if (out.required.length === 0) delete out.required;
  }
  return out;
}

const plain = (s: TSchema) => JSON.parse(JSON.stringify(s));
const problem = { $ref: "#/components/schemas/Problem" };
const errorResponses = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [String(c), { description: String(c), content: { "application/problem+json": { schema: problem } } }]),
  );

function paths(def: KindDef) {
  const ref = { $ref: `#/components/schemas/${def.kind}` };
  const ok = (schema: object) => ({
    description: "OK",
    ...(hasSecrets(def) ? { headers: redactedHeader } : {}),
    content: { "application/json": { schema } },
  });
  const listRef = { $ref: `#/components/schemas/${def.kind}List` };
  const base = def.namespaced ? `/${def.group}/namespaces/{namespace}/${def.plural}` : `/${def.group}/${def.plural}`;
  const params = [
    ...(def.namespaced ? [{ name: "namespace", in: "path", required: true, schema: { type: "string" } }] : []),
  ];
  const nameParam = { name: "name", in: "path", required: true, schema: { type: "string" } };
  const watchParams = [
    { name: "watch", in: "query", schema: { type: "string" }, description: "Stream changes as NDJSON (absent, false, 0 or no: plain list)" },
    { name: "heartbeat", in: "query", schema: { type: "integer", minimum: 0, default: 10 } },
    { name: "resource_version", in: "query", schema: { type: "integer", minimum: 0 }, description: "Replay every change after this revision, then stream live" },
  ];
  const tag = [def.group];
  const body = (schema: object) => ({ required: true, content: { "application/json": { schema } } });
  const result: Record<string, any> = {
    [base]: {
      parameters: params,
      get: { tags: tag, operationId: `list${def.kind}s`, parameters: watchParams, responses: { "200": ok(listRef), ...errorResponses(401, 403, 410, 422) } },
      post: {
        tags: tag,
        operationId: `create${def.kind}`,
        ...(def.blocking ? { parameters: [{ name: "blocking", in: "query", schema: { type: "string" } }] } : {}),
        requestBody: body({ $ref: `#/components/schemas/${def.kind}Create` }),
        responses: { "200": ok(ref), ...errorResponses(401, 403, 409, 413, 415, 422) },
      },
    },
    [`${base}/{name}`]: {
      parameters: [...params, nameParam],
      get: { tags: tag, operationId: `read${def.kind}`, responses: { "200": ok(ref), ...errorResponses(401, 403, 404) } },
      put: {
        tags: tag,
        operationId: `update${def.kind}`,
        requestBody: body(ref),
        responses: { "200": ok(ref), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
      delete: {
        tags: tag,
        operationId: `delete${def.kind}`,
        ...(def.blocking
          ? { parameters: [{ name: "blocking", in: "query", schema: { type: "string" } }, { name: "force", in: "query", schema: { type: "string", enum: ["True", "False"] } }] }
          : {}),
        responses: { "200": ok(ref), ...errorResponses(401, 403, 404) },
      },
    },
  };
  if (def.namespaced) {
    result[`/${def.group}/${def.plural}`] = {
      get: { tags: tag, operationId: `listAll${def.kind}s`, parameters: watchParams, responses: { "200": ok(listRef), ...errorResponses(401, 403, 410, 422) } },
    };
  }
  if (def.hasStatus) {
    result[`${base}/{name}/status`] = {
      parameters: [...params, nameParam],
      put: { tags: tag, operationId: `update${def.kind}Status`, requestBody: body(ref), responses: { "200": ok(ref), ...errorResponses(401, 403, 404, 409, 422) } },
    };
  }
  for (const action of def.actions) {
    const opName = action.name[0].toUpperCase() + action.name.slice(1);
    result[`${base}/{name}/${action.name}`] = {
      parameters: [...params, nameParam],
      put: {
        tags: tag,
        operationId: `${action.name === "binding" ? "update" : ""}${def.kind}${opName}`.replace(/^./, (c) => c.toLowerCase()),
        ...(action.body ? { requestBody: body(inputSchema(plain(action.body))) } : {}),
        responses: { "200": ok(ref), ...errorResponses(400, 401, 403, 404, 422) },
      },
    };
  }
  return result;
}

export function openApiDocument() {
  const schemas: Record<string, unknown> = {
    Problem: {
      type: "object",
      properties: {
        type: { type: "string" },
        title: { type: "string" },
        status: { type: "integer" },
        detail: { type: "string" },
        instance: { type: "string" },
        errors: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
      },
    },
  };
  let allPaths: Record<string, unknown> = {};
  for (const def of KINDS) {
    schemas[def.kind] = { ...plain(def.schema), ...secretsDoc(def, false) };
    schemas[`${def.kind}Create`] = { ...inputSchema(plain(def.schema)), ...secretsDoc(def, true) };
    schemas[`${def.kind}List`] = {
      type: "object",
      properties: {
        api: { const: def.group },
        kind: { const: `${def.kind}List` },
        metadata: { type: "object", properties: { resource_version: { type: "string" } } },
        items: { type: "array", items: { $ref: `#/components/schemas/${def.kind}` } },
      },
    };
    allPaths = { ...allPaths, ...paths(def) };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Krake API", version: VERSION, description: "Wire-compatible with Krake 1.0.1; see docs/api.md for our differences." },
    paths: allPaths,
    components: { schemas },
  };
}
