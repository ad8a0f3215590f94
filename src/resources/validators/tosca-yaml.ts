/**
 * Reading a TOSCA template from YAML text (for the CLI's `-f template.yaml`), with limits, because the text
 * may come from anywhere.
 *
 * Krake's tools read TOSCA with PyYAML, i.e. YAML 1.1: `required: yes` is a boolean there. We use the
 * YAML 1.1 schema too, with PyYAML's booleans, minus the tags that do not map to JSON (timestamps, binary,
 * sets, ordered maps), which stay plain strings, so the result can be sent as a request body unchanged.
 */
import { parseDocument, type ScalarTag, type Tags } from "yaml";
import { MAX_DEPTH, isPlainObject, tooDeep } from "./util.js";

export const TOSCA_YAML_MAX_BYTES = 1024 * 1024;
/** Enough for the anchors real templates use; stops "billion laughs" expansion long before it hurts. */
export const TOSCA_YAML_MAX_ALIASES = 100;

export class ToscaYamlError extends Error {
  override name = "ToscaYamlError";
}

const NON_JSON_TAGS = new Set([
  "tag:yaml.org,2002:timestamp",
  "tag:yaml.org,2002:binary",
  "tag:yaml.org,2002:set",
  "tag:yaml.org,2002:omap",
  "tag:yaml.org,2002:pairs",
]);

const BOOL = "tag:yaml.org,2002:bool";
const TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;

// The yaml package's YAML 1.1 booleans include y/n, PyYAML's do not (a node called `y` stays a string).
const pyyamlBool: ScalarTag = {
  identify: (v) => typeof v === "boolean",
  default: true,
  tag: BOOL,
  test: /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
  resolve: (text) => TRUE.test(text),
};

const tagName = (t: Tags[number]) => (typeof t === "string" ? `tag:yaml.org,2002:${t}` : t.tag);

const pyyamlTags = (tags: Tags): Tags => [
  pyyamlBool,
  ...tags.filter((t) => !NON_JSON_TAGS.has(tagName(t)) && tagName(t) !== BOOL),
];

export function parseToscaYaml(text: string): Record<string, unknown> {
  if (typeof text !== "string") throw new ToscaYamlError("The TOSCA template must be given as text.");
  const size = Buffer.byteLength(text, "utf8");
  if (size > TOSCA_YAML_MAX_BYTES) {
    throw new ToscaYamlError(
      `The TOSCA template is too large: ${size} bytes, at most ${TOSCA_YAML_MAX_BYTES} are allowed.`,
    );
  }
  let value: unknown;
  try {
    const doc = parseDocument(text, {
      version: "1.1",
      customTags: pyyamlTags,
      // PyYAML lets a later duplicate key win; so do we.
      uniqueKeys: false,
      logLevel: "error",
      prettyErrors: true,
    });
    if (doc.errors.length > 0)
      throw new ToscaYamlError(`The TOSCA template is not valid YAML: ${doc.errors[0].message}`);
    value = doc.toJS({ maxAliasCount: TOSCA_YAML_MAX_ALIASES });
  } catch (err) {
    if (err instanceof ToscaYamlError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ToscaYamlError(`The TOSCA template could not be read: ${why}`);
  }
  if (!isPlainObject(value))
    throw new ToscaYamlError("The TOSCA template must be a YAML mapping (key: value pairs).");
  if (tooDeep(value))
    throw new ToscaYamlError(`The TOSCA template is nested too deeply (more than ${MAX_DEPTH} levels).`);
  return value;
}
