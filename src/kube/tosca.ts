/**
 * Translation of an Application's TOSCA template or CSAR archive into Kubernetes manifests
 * (controllers.md §5.2; Krake's `krake/controller/kubernetes/tosca.py` and `docs/dev/tosca.rst`).
 *
 * `spec.manifest` wins over `spec.tosca`, which wins over `spec.csar`; the application controller
 * translates only when `spec.manifest` is empty. A template is a dict, or the http(s) URL of a YAML file; a
 * CSAR is the http(s) URL of a zip archive whose `TOSCA-Metadata/TOSCA.meta` names the template in
 * `Entry-Definitions`. Every node template must be a `tosca.nodes.indigo.KubernetesObject` whose
 * `properties.spec` renders (functions `concat`, `get_input`, `get_property`) to one Kubernetes object.
 *
 * Errors are {@link ToscaError}s naming the field they concern; download failures are
 * {@link ToscaFetchError}s that say whether trying again later can help (`transient`), so the controller
 * can back off on a flaky server but fail the application on a template that will never work.
 */
import { checkManifest } from "../resources/validators/manifest.js";
import { checkAppTosca, checkCsar } from "../resources/validators/tosca.js";
import { TOSCA_YAML_MAX_BYTES, ToscaYamlError, parseToscaYaml } from "../resources/validators/tosca-yaml.js";
import { isPlainObject, own, quote, typeName } from "../resources/validators/util.js";
import { linkedController, startDeadline } from "../util/deadline.js";
import { nodeHttp, type HttpResponse, type HttpSend } from "../util/http.js";
import { AddressGuard, DeniedAddressError } from "./address-guard.js";
export { DEFAULT_DENIED_NETWORKS } from "./address-guard.js";
import { ZipError, openZip, type ZipArchive, type ZipEntry } from "./zip.js";

export const KUBERNETES_OBJECT_TYPE = "tosca.nodes.indigo.KubernetesObject";
export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
export const DEFAULT_FETCH_MAX_BYTES = 10 * 1024 * 1024;
/** The uncompressed size all entries of a CSAR may declare together (zip bomb guard). */
export const DEFAULT_CSAR_MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024;
export const CSAR_MAX_ENTRIES = 10_000;
export const MAX_REDIRECTS = 5;
export const CSAR_META_PATH = "TOSCA-Metadata/TOSCA.meta";
const CSAR_META_MAX_BYTES = 64 * 1024;
/**
 * Values visited while rendering one template. Far more than any template has, but get_property chains
 * can multiply work exponentially (each property referring to the previous one twice).
 */
const MAX_EVALUATIONS = 1_000_000;
/** The longest text a spec may render to (the same bound as a template's own text). */
const MAX_RENDERED_CHARS = TOSCA_YAML_MAX_BYTES;

/** A template or archive that cannot be translated; `field` names where, e.g. `spec.tosca.topology_template…`. */
export class ToscaError extends Error {
  override name = "ToscaError";
  /** Whether trying again later can help; only download failures can be transient. */
  readonly transient: boolean = false;

  constructor(
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The template or archive could not be downloaded. */
export class ToscaFetchError extends ToscaError {
  override name = "ToscaFetchError";

  constructor(
    field: string,
    message: string,
    /** The URL without credentials or query. */
    readonly url: string,
    /** Network errors, timeouts, 5xx, 408 and 429: the controller retries with backoff. */
    override readonly transient: boolean,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(field, message, options);
  }
}

export interface TranslateOptions {
  /** Aborts a download; the promise then rejects with the signal's reason (not a ToscaError). */
  signal?: AbortSignal;
  /** For the whole download, redirects included. Default 10 s. */
  timeoutMs?: number;
  /**
   * Most bytes a download may have; enforced while streaming. Default 10 MiB. A template URL is also
   * bounded by the largest template we parse (1 MiB), whichever is smaller.
   */
  maxBytes?: number;
  /** Most bytes the entries of a CSAR may declare uncompressed, together. Default 100 MiB. */
  maxUncompressedBytes?: number;
  /** The HTTP sender (tests); node:http(s) by default. */
  send?: HttpSend;
  /**
   * Addresses downloads may not reach, checked after DNS resolution and on every redirect; default
   * {@link DEFAULT_DENIED_NETWORKS} (link-local, where cloud metadata services answer).
   */
  guard?: AddressGuard;
}

const defaultGuard = new AddressGuard();
/** One sender per guard: its agents resolve names through the guard. */
const guardedSenders = new WeakMap<AddressGuard, HttpSend>();

function guardedSender(guard: AddressGuard): HttpSend {
  let send = guardedSenders.get(guard);
  if (send === undefined) {
    send = nodeHttp(undefined, { lookup: guard.lookup });
    guardedSenders.set(guard, send);
  }
  return send;
}

export interface ApplicationSource {
  manifest?: unknown[] | null;
  tosca?: Record<string, unknown> | string | null;
  csar?: string | null;
}

/**
 * The manifests an Application's TOSCA template or CSAR stands for, or null when there is nothing to
 * translate (a manifest is given, or neither a template nor an archive).
 */
export async function translateApplication(
  spec: ApplicationSource,
  opts: TranslateOptions = {},
): Promise<Record<string, unknown>[] | null> {
  if (Array.isArray(spec.manifest) && spec.manifest.length > 0) return null;
  const tosca = spec.tosca;
  if (typeof tosca === "string" && tosca !== "") {
    const bad = checkAppTosca(tosca);
    if (bad.length > 0) throw new ToscaError("spec.tosca", bad[0].message);
    const limit = Math.min(opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES, TOSCA_YAML_MAX_BYTES);
    const body = await download(tosca, "spec.tosca", "the TOSCA template", { ...opts, maxBytes: limit });
    const doc = parseTemplate(body, "spec.tosca", `The TOSCA template at ${shownUrl(tosca)}`);
    return translateTemplate(doc, "spec.tosca");
  }
  if (isPlainObject(tosca) && Object.keys(tosca).length > 0) return translateTemplate(tosca, "spec.tosca");
  if (tosca !== undefined && tosca !== null && tosca !== "" && !isPlainObject(tosca)) {
    throw new ToscaError("spec.tosca", `spec.tosca must be a template or a URL, not ${typeName(tosca)}.`);
  }
  const csar = spec.csar;
  if (typeof csar === "string" && csar !== "") {
    const bad = checkCsar(csar);
    if (bad.length > 0) throw new ToscaError("spec.csar", bad[0].message);
    const body = await download(csar, "spec.csar", "the CSAR archive", opts);
    return translateCsar(body, csar, opts);
  }
  return null;
}

/** The manifests of a CSAR archive already in memory; `url` only names it in messages. */
export function translateCsar(
  archive: Uint8Array,
  url: string,
  opts: Pick<TranslateOptions, "maxUncompressedBytes"> = {},
): Record<string, unknown>[] {
  const field = "spec.csar";
  const shown = shownUrl(url);
  let zip: ZipArchive;
  try {
    zip = openZip(archive, {
      maxEntries: CSAR_MAX_ENTRIES,
      maxTotalBytes: opts.maxUncompressedBytes ?? DEFAULT_CSAR_MAX_UNCOMPRESSED_BYTES,
    });
  } catch (err) {
    if (!(err instanceof ZipError)) throw err;
    throw new ToscaError(field, `The CSAR archive at ${shown} cannot be read: ${err.message}.`, {
      cause: err,
    });
  }
  const entry = csarEntryDefinitions(zip, field, shown);
  const text = readArchiveText(zip, entry, TOSCA_YAML_MAX_BYTES, field, shown);
  const doc = parseTemplate(text, field, `The template ${quote(entry.name)} in the CSAR archive at ${shown}`);
  return translateTemplate(doc, `${field}[${entry.name}]`);
}

/**
 * The template file of a CSAR: the `Entry-Definitions` of `TOSCA-Metadata/TOSCA.meta`; without that file,
 * the only YAML file at the archive's root.
 *
 * Krake (tosca-parser) accepts an archive without TOSCA.meta only when its single root YAML file is not
 * `tosca_simple_yaml_1_0` (CSAR 1.0 required the meta file; the Simple Profile 1.1+ made it optional). We
 * accept it for every version: with exactly one YAML file at the root there is no doubt which file is meant,
 * and refusing it would only make users add boilerplate.
 */
function csarEntryDefinitions(zip: ZipArchive, field: string, shown: string): ZipEntry {
  const meta = zip.entry(CSAR_META_PATH);
  if (meta && !meta.isDirectory) {
    const text = readArchiveText(zip, meta, CSAR_META_MAX_BYTES, field, shown);
    const named = metaValue(text, "Entry-Definitions");
    if (named === null || named === "") {
      throw new ToscaError(
        field,
        `The CSAR archive at ${shown} has no Entry-Definitions in ${CSAR_META_PATH}; it must name the template file.`,
      );
    }
    const path = named.replace(/^(?:\.\/)+/, "");
    const entry = zip.entry(path);
    if (!entry || entry.isDirectory) {
      throw new ToscaError(
        field,
        `The Entry-Definitions file ${quote(named)} named in ${CSAR_META_PATH} is not in the CSAR archive at ${shown}.`,
      );
    }
    return entry;
  }
  const roots = zip.entries.filter((e) => !e.isDirectory && !e.name.includes("/") && /\.ya?ml$/.test(e.name));
  if (roots.length !== 1) {
    const found = roots.length === 0 ? "none" : roots.map((e) => quote(e.name)).join(", ");
    throw new ToscaError(
      field,
      `The CSAR archive at ${shown} has no ${CSAR_META_PATH}, so it must hold exactly one YAML file at its ` +
        `root to use as the template; found ${found}.`,
    );
  }
  return roots[0];
}

/** A `Key: value` of a TOSCA.meta file (the first block holds Entry-Definitions); quotes removed. */
function metaValue(text: string, key: string): string | null {
  for (const line of text.split(/\r\n|\r|\n/)) {
    const m = /^([A-Za-z0-9_.-]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m || m[1] !== key) continue;
    const value = m[2];
    const quoted = /^(["'])(.*)\1$/.exec(value);
    return quoted ? quoted[2] : value;
  }
  return null;
}

function readArchiveText(
  zip: ZipArchive,
  entry: ZipEntry,
  limit: number,
  field: string,
  shown: string,
): string {
  const name = quote(entry.name);
  if (entry.size > limit) {
    throw new ToscaError(
      field,
      `The file ${name} in the CSAR archive at ${shown} is too large: ${entry.size} bytes, at most ${limit} are allowed.`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = zip.read(entry);
  } catch (err) {
    if (!(err instanceof ZipError)) throw err;
    throw new ToscaError(field, `The CSAR archive at ${shown} cannot be read: ${err.message}.`, {
      cause: err,
    });
  }
  return decodeText(bytes, field, `The file ${name} in the CSAR archive at ${shown}`);
}

function decodeText(bytes: Uint8Array, field: string, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ToscaError(field, `${what} is not UTF-8 text.`);
  }
}

/** Downloaded template text (or bytes) as a TOSCA document. */
function parseTemplate(body: Uint8Array | string, field: string, what: string): Record<string, unknown> {
  const text = typeof body === "string" ? body : decodeText(body, field, what);
  try {
    return parseToscaYaml(text);
  } catch (err) {
    if (!(err instanceof ToscaYamlError)) throw err;
    throw new ToscaError(field, err.message.replace(/^The TOSCA template/, what), { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Templates

type Path = (string | number)[];

const fieldOf = (where: string, path: Path) => [where, ...path.map(String)].join(".");
const nodePath = (name: string): Path => ["topology_template", "node_templates", name];

const isEmptyValue = (v: unknown) =>
  v === undefined ||
  v === null ||
  (typeof v === "string" && v.trim() === "") ||
  (Array.isArray(v) && v.length === 0) ||
  (isPlainObject(v) && Object.keys(v).length === 0);

/**
 * The manifests of a TOSCA template given as a dict, in node template order. `where` prefixes the fields
 * errors name (`spec.tosca`, or `spec.csar[<entry file>]`).
 */
export function translateTemplate(doc: unknown, where = "spec.tosca"): Record<string, unknown>[] {
  if (!isPlainObject(doc)) {
    throw new ToscaError(where, `The TOSCA template must be a mapping, not ${typeName(doc)}.`);
  }
  // The admission checks again: a downloaded template never passed them, and a stored one may predate them.
  const issues = checkAppTosca(doc);
  if (issues.length > 0) {
    const more =
      issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
    throw new ToscaError(fieldOf(where, issues[0].path), `${issues[0].message}${more}`);
  }
  const topology = own(doc, "topology_template");
  if (!isPlainObject(topology)) {
    throw new ToscaError(
      fieldOf(where, ["topology_template"]),
      "The TOSCA template has no topology_template.",
    );
  }
  const nodes = own(topology, "node_templates");
  if (!isPlainObject(nodes) || Object.keys(nodes).length === 0) {
    throw new ToscaError(
      fieldOf(where, ["topology_template", "node_templates"]),
      "The TOSCA template has no node templates.",
    );
  }
  const inputs = own(topology, "inputs");
  const renderer = new Renderer(where, nodes, isPlainObject(inputs) ? inputs : {});
  const names = Object.keys(nodes);
  const manifests = names.map((name) => {
    const node = nodes[name] as Record<string, unknown>;
    const type = own(node, "type");
    if (type !== KUBERNETES_OBJECT_TYPE) {
      throw new ToscaError(
        fieldOf(where, [...nodePath(name), "type"]),
        `The node template ${quote(name)} has the type ${quote(type)}; only ${KUBERNETES_OBJECT_TYPE} is supported.`,
      );
    }
    const properties = own(node, "properties");
    const spec = isPlainObject(properties) ? own(properties, "spec") : undefined;
    const specPath = [...nodePath(name), "properties", "spec"];
    if (isEmptyValue(spec)) {
      throw new ToscaError(
        fieldOf(where, specPath),
        `The node template ${quote(name)} has no properties.spec; it must hold a Kubernetes object.`,
      );
    }
    return toManifest(renderer.render(name, spec), fieldOf(where, specPath), name);
  });
  const problems = checkManifest(manifests);
  if (problems.length > 0) {
    const index = problems[0].path[0] as number;
    const message = problems[0].message.replace(
      /\bindex (\d+)/g,
      (_, i: string) => `node template ${quote(names[Number(i)])}`,
    );
    throw new ToscaError(
      fieldOf(where, [...nodePath(names[index]), "properties", "spec"]),
      `The spec of node template ${quote(names[index])} is not a valid Kubernetes object: ${message}`,
    );
  }
  return manifests;
}

/** A rendered spec as one manifest: YAML text is parsed (YAML 1.1, as Krake's PyYAML and kubectl read it). */
function toManifest(rendered: unknown, field: string, node: string): Record<string, unknown> {
  const what = `The spec of node template ${quote(node)}`;
  if (isPlainObject(rendered)) return rendered;
  if (typeof rendered !== "string") {
    throw new ToscaError(
      field,
      `${what} must render to a Kubernetes object (YAML text or a mapping), not ${typeName(rendered)}.`,
    );
  }
  if (rendered.trim() === "") throw new ToscaError(field, `${what} renders to empty text.`);
  try {
    return parseToscaYaml(rendered);
  } catch (err) {
    if (!(err instanceof ToscaYamlError)) throw err;
    throw new ToscaError(field, err.message.replace(/^The TOSCA template/, what), { cause: err });
  }
}

const SUPPORTED_FUNCTIONS = ["concat", "get_input", "get_property"];
/** TOSCA's other intrinsic functions; each takes a list (get_nodes_of_type: a type name). */
const OTHER_FUNCTIONS = new Set(["get_attribute", "get_operation_output", "get_artifact", "token", "join"]);

interface Call {
  name: string;
  args: unknown;
}

/**
 * A TOSCA function call: a mapping with a single key naming a function. Unsupported functions count only
 * with the argument shape TOSCA gives them, so that a Kubernetes mapping inside a spec given as a mapping
 * (a Secret's `stringData: {token: abc}`) is not mistaken for one.
 */
function functionCall(value: unknown): Call | null {
  if (!isPlainObject(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1) return null;
  const [name] = keys;
  const args = value[name];
  if (SUPPORTED_FUNCTIONS.includes(name)) return { name, args };
  if (OTHER_FUNCTIONS.has(name) && Array.isArray(args)) return { name, args };
  if (name === "get_nodes_of_type" && typeof args === "string") return { name, args };
  return null;
}

/**
 * Whether a function's value spliced into `concat` text needs a space before it.
 *
 * Krake prepends a space to every `get_input` value. Its templates rely on that: they end a text part with a
 * bare key (`replicas:`) and put the input after it, and `replicas:1` is not a mapping entry in YAML. But the
 * unconditional space corrupts values built from pieces — `app-` + suffix becomes `app- x`, `nginx:` + tag
 * becomes `nginx: 1.14` — and TOSCA's `concat` joins its arguments as they are. So we add the space only
 * where it separates a key from its value: the text so far ends with `:`, and the part of it since the last
 * line break, `{` or `,` is a bare key (no `: ` or `#` in it). This renders Krake's templates exactly as
 * Krake does, and everything else as TOSCA defines. We apply it to every function value (get_property and
 * nested concat too, which Krake never separates), so that a template may use either function the same way.
 */
function needsSeparator(text: string, value: string): boolean {
  if (!text.endsWith(":") || value === "" || /^\s/.test(value)) return false;
  const start = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("{"), text.lastIndexOf(",")) + 1;
  const key = text.slice(start, -1);
  return key.trim() !== "" && !/:\s/.test(key) && !key.includes("#");
}

class Renderer {
  private evaluations = 0;

  constructor(
    private readonly where: string,
    private readonly nodes: Record<string, unknown>,
    private readonly inputs: Record<string, unknown>,
  ) {}

  /** The value of a node's `spec` with every function evaluated. */
  render(node: string, spec: unknown): unknown {
    return this.evaluate(spec, node, [...nodePath(node), "properties", "spec"], [`${node}.spec`]);
  }

  private error(path: Path, message: string): ToscaError {
    return new ToscaError(fieldOf(this.where, path), message);
  }

  /** `self` is the node the value belongs to; `stack` the properties being evaluated (cycle guard). */
  private evaluate(value: unknown, self: string, path: Path, stack: string[]): unknown {
    if (++this.evaluations > MAX_EVALUATIONS) {
      throw this.error(
        path,
        `The TOSCA template takes more than ${MAX_EVALUATIONS} steps to render (get_property chains multiply).`,
      );
    }
    const call = functionCall(value);
    if (call) return this.call(call, self, [...path, call.name], stack);
    if (Array.isArray(value)) return value.map((v, i) => this.evaluate(v, self, [...path, i], stack));
    if (isPlainObject(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, this.evaluate(v, self, [...path, k], stack)]),
      );
    }
    return value;
  }

  private call(call: Call, self: string, path: Path, stack: string[]): unknown {
    switch (call.name) {
      case "concat":
        return this.concat(call.args, self, path, stack);
      case "get_input":
        return this.getInput(call.args, self, path);
      case "get_property":
        return this.getProperty(call.args, self, path, stack);
      default:
        throw this.error(
          path,
          `The function ${call.name} (in node template ${quote(self)}) is not supported; only ` +
            `${SUPPORTED_FUNCTIONS.join(", ")} are.`,
        );
    }
  }

  private concat(args: unknown, self: string, path: Path, stack: string[]): string {
    if (!Array.isArray(args)) {
      throw this.error(
        path,
        `concat (in node template ${quote(self)}) takes a list of values, not ${typeName(args)}.`,
      );
    }
    let text = "";
    args.forEach((arg, i) => {
      const value = this.evaluate(arg, self, [...path, i], stack);
      const piece = this.text(value, self, [...path, i]);
      if (functionCall(arg) && needsSeparator(text, piece)) text += " ";
      text += piece;
      if (text.length > MAX_RENDERED_CHARS) {
        throw this.error(
          path,
          `concat (in node template ${quote(self)}) renders more than ${MAX_RENDERED_CHARS} characters.`,
        );
      }
    });
    return text;
  }

  /** A value as concat text: strings as they are, numbers and booleans as YAML reads them back, else JSON. */
  private text(value: unknown, self: string, path: Path): string {
    if (typeof value === "string") return value;
    if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean")
      return String(value);
    if (Array.isArray(value) || isPlainObject(value)) return JSON.stringify(value);
    throw this.error(
      path,
      `concat (in node template ${quote(self)}) cannot join ${value === null ? "null" : typeName(value)}.`,
    );
  }

  /**
   * `get_input: name` (or `[name, key or index…]`): the input's `default`. Nobody supplies input values
   * when an Application is deployed, so an input without a default is an error (Krake renders `None`).
   */
  private getInput(args: unknown, self: string, path: Path): unknown {
    const list = Array.isArray(args) ? args : [args];
    const [name, ...keys] = list;
    if (typeof name !== "string" || name === "") {
      throw this.error(path, `get_input (in node template ${quote(self)}) needs an input name.`);
    }
    const input = own(this.inputs, name);
    if (!isPlainObject(input)) {
      throw this.error(
        path,
        `The input ${quote(name)} used by node template ${quote(self)} is not defined in topology_template.inputs.`,
      );
    }
    const value = own(input, "default");
    if (value === undefined || value === null) {
      throw this.error(
        path,
        `The input ${quote(name)} used by node template ${quote(self)} has no default value; ` +
          "inputs cannot be given at deployment, so every input used needs one.",
      );
    }
    return structuredClone(this.dig(value, keys, path, `The input ${quote(name)}`));
  }

  /**
   * `get_property: [SELF | node name, property, nested key or index…]`, or `[node, capability, property…]`
   * for a capability's property. The property's own functions are evaluated for the node that holds it.
   */
  private getProperty(args: unknown, self: string, path: Path, stack: string[]): unknown {
    const where = `get_property (in node template ${quote(self)})`;
    if (
      !Array.isArray(args) ||
      args.length < 2 ||
      typeof args[0] !== "string" ||
      typeof args[1] !== "string"
    ) {
      throw this.error(path, `${where} takes [SELF or a node template name, a property name, …].`);
    }
    const [entity, property, ...rest] = args as [string, string, ...unknown[]];
    if (entity === "HOST" || entity === "SOURCE" || entity === "TARGET") {
      throw this.error(
        path,
        `${where} refers to ${entity}, which is not supported; use SELF or a node template name.`,
      );
    }
    const target = entity === "SELF" ? self : entity;
    const node = own(this.nodes, target);
    if (!isPlainObject(node)) {
      throw this.error(path, `${where} refers to the node template ${quote(target)}, which does not exist.`);
    }
    const properties = own(node, "properties");
    let value: unknown;
    let key: string;
    let valuePath: Path;
    if (isPlainObject(properties) && Object.hasOwn(properties, property)) {
      value = properties[property];
      key = `${target}.${property}`;
      valuePath = [...nodePath(target), "properties", property];
    } else {
      const capabilities = own(node, "capabilities");
      const capability = isPlainObject(capabilities) ? own(capabilities, property) : undefined;
      const capProps = isPlainObject(capability) ? own(capability, "properties") : undefined;
      const name = rest[0];
      if (typeof name !== "string" || !isPlainObject(capProps) || !Object.hasOwn(capProps, name)) {
        throw this.error(
          path,
          `${where}: the node template ${quote(target)} has no property ${quote(property)}.`,
        );
      }
      rest.shift();
      value = capProps[name];
      key = `${target}.${property}.${name}`;
      valuePath = [...nodePath(target), "capabilities", property, "properties", name];
    }
    if (stack.includes(key)) {
      throw this.error(path, `${where} refers back to itself: ${[...stack, key].join(" -> ")}.`);
    }
    const evaluated = this.evaluate(value, target, valuePath, [...stack, key]);
    return this.dig(evaluated, rest, path, `The property ${quote(key)}`);
  }

  private dig(value: unknown, keys: unknown[], path: Path, what: string): unknown {
    let current = value;
    for (const k of keys) {
      if (
        Array.isArray(current) &&
        typeof k === "number" &&
        Number.isInteger(k) &&
        k >= 0 &&
        k < current.length
      ) {
        current = current[k];
      } else if (isPlainObject(current) && typeof k === "string" && Object.hasOwn(current, k)) {
        current = current[k];
      } else {
        throw this.error(path, `${what} has no element ${quote(k)}.`);
      }
    }
    return current;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Downloads

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TRANSIENT_STATUS = (status: number) => status >= 500 || status === 408 || status === 429;

/** A URL for messages and logs: no user info (credentials) and no query (signed URLs carry tokens there). */
export function shownUrl(url: string | URL): string {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url) : url;
  } catch {
    return "(an invalid URL)";
  }
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
}

/**
 * GETs an http(s) URL: follows up to 5 redirects, stops at the deadline, and stops reading (dropping the
 * connection) as soon as the body would exceed `maxBytes`, so an oversized answer costs at most that much.
 */
async function download(url: string, field: string, what: string, opts: TranslateOptions): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const guard = opts.guard ?? defaultGuard;
  const send = opts.send ?? guardedSender(guard);
  const deadline = startDeadline(opts.signal, timeoutMs);
  let current = new URL(url);
  const fail = (message: string, transient: boolean, status?: number, cause?: unknown) =>
    new ToscaFetchError(
      field,
      message,
      shownUrl(current),
      transient,
      status,
      cause === undefined ? undefined : { cause },
    );
  /** What a failed request or read turns into: the caller's abort, a timeout, or a network error. */
  const broken = (err: unknown) => {
    if (opts.signal?.aborted) return opts.signal.reason;
    if (err instanceof ToscaError) return err;
    const cause = (err as Error)?.cause;
    if (err instanceof DeniedAddressError || cause instanceof DeniedAddressError) return refused(err);
    if (deadline.timedOut()) {
      return fail(
        `Downloading ${what} from ${shownUrl(current)} timed out after ${timeoutMs} ms.`,
        true,
        undefined,
        err,
      );
    }
    const errno = cause as NodeJS.ErrnoException | undefined;
    const why = errno?.code ?? errno?.message ?? (err as Error)?.message ?? String(err);
    return fail(`Downloading ${what} from ${shownUrl(current)} failed: ${why}.`, true, undefined, err);
  };
  /** Not transient: the address will not become allowed by waiting. */
  const refused = (err: unknown) => {
    const denied = (err instanceof DeniedAddressError ? err : (err as Error).cause) as DeniedAddressError;
    return fail(
      `Downloading ${what} from ${shownUrl(current)} refused: ${denied.host} is at ${denied.address}, in a network the controller may not download from (--tosca-deny-networks; by default the link-local ranges, where cloud metadata services answer).`,
      false,
      undefined,
      err,
    );
  };
  try {
    for (let redirects = 0; ; redirects++) {
      if (current.protocol !== "http:" && current.protocol !== "https:") {
        throw fail(
          `Downloading ${what}: only http and https URLs are supported, not ${shownUrl(current)}.`,
          false,
        );
      }
      try {
        // Literal addresses are not resolved, so the guard's lookup never sees them.
        guard.checkLiteral(current.hostname);
      } catch (err) {
        throw refused(err);
      }
      // One controller per request: the body of a redirect or an error is not read, but dropped with its
      // connection (so a server cannot stall us with it, and the socket is never reused half-read).
      const hop = linkedController(deadline.signal);
      try {
        let res: HttpResponse;
        try {
          res = await send(current, {
            method: "GET",
            headers: { Accept: "application/yaml, application/zip, application/octet-stream, */*" },
            signal: hop.controller.signal,
          });
        } catch (err) {
          throw broken(err);
        }
        if (REDIRECTS.has(res.status)) {
          const location = res.header("location");
          hop.controller.abort();
          if (!location)
            throw fail(
              `${shownUrl(current)} redirects (${res.status}) without a Location.`,
              false,
              res.status,
            );
          if (redirects >= MAX_REDIRECTS) {
            throw fail(
              `Downloading ${what} from ${shownUrl(url)}: more than ${MAX_REDIRECTS} redirects.`,
              false,
              res.status,
            );
          }
          try {
            current = new URL(location, current);
          } catch {
            throw fail(`${shownUrl(current)} redirects to an invalid URL.`, false, res.status);
          }
          continue;
        }
        if (!res.ok) {
          hop.controller.abort();
          const reason = res.statusText ? ` ${res.statusText}` : "";
          throw fail(
            `Downloading ${what} from ${shownUrl(current)} failed: HTTP ${res.status}${reason}.`,
            TRANSIENT_STATUS(res.status),
            res.status,
          );
        }
        const tooLarge = () =>
          fail(
            `${what[0].toUpperCase()}${what.slice(1)} at ${shownUrl(current)} is larger than ${maxBytes} bytes.`,
            false,
            res.status,
          );
        const declared = Number(res.header("content-length"));
        if (Number.isFinite(declared) && declared > maxBytes) {
          hop.controller.abort();
          throw tooLarge();
        }
        const parts: Uint8Array[] = [];
        let total = 0;
        try {
          for await (const chunk of res.chunks()) {
            total += chunk.byteLength;
            // Leaving the loop destroys the response, and with it the connection: nothing more is read.
            if (total > maxBytes) throw tooLarge();
            parts.push(chunk);
          }
        } catch (err) {
          throw broken(err);
        }
        return Buffer.concat(parts, total);
      } finally {
        hop.dispose();
      }
    }
  } finally {
    deadline.dispose();
  }
}
