/**
 * How IM puts answers on the wire: content negotiation (`get_media_type`, `format_output`, `return_error` in
 * `IM/rest/routers/__init__.py`), the byte form of JSON and text bodies, and the two server flavours.
 *
 * IM 2.0.0 runs on FastAPI/Starlette: JSON is compact (`{"a":1}`), text content types get `; charset=utf-8`,
 * header names go out lower-cased. IM 1.19.2 runs on Flask: JSON is Python's `json.dumps` default
 * (`{"a": 1}`, non-ASCII escaped), and successful answers carry the bare media type. The simulator answers as
 * 2.0.0 unless asked for the 1.x flavour, so a client can be tested against both without a real IM.
 */

/** The IM release the simulator imitates. */
export type ImVersion = "2.0.0" | "1.19.2";

/** A fully decided HTTP answer. */
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A value a handler hands to {@link formatOutput}; RADL values have distinct text and JSON forms. */
export type OutputValue =
  | { kind: "text"; value: string }
  | { kind: "list"; value: string[] }
  | { kind: "json"; value: unknown }
  | { kind: "radl"; text: string; simple: unknown };

/**
 * IM's `get_media_type`: the header split on commas, parameters after `;` dropped, whitespace trimmed, the
 * three YAML spellings folded into `text/yaml`. Absent or empty header → empty list.
 */
export function mediaTypes(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(",").map((part) => {
    const cut = part.indexOf(";");
    const type = (cut === -1 ? part : part.slice(0, cut)).trim();
    return type === "text/yaml" || type === "text/x-yaml" || type === "application/yaml" ? "text/yaml" : type;
  });
}

/** Python's `repr()` of a string: single quotes unless the text has a single quote and no double quote. */
export function pyReprString(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's `repr()` of a list of strings, e.g. `['text/plain']` — IM interpolates lists into messages. */
export function pyReprList(values: readonly string[]): string {
  return `[${values.map(pyReprString).join(", ")}]`;
}

/** Python's `str()` of a scalar as `"%s" % value` renders it (None, True, numbers). */
export function pyStr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (Array.isArray(value)) return `[${value.map(pyReprValue).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${pyReprString(k)}: ${pyReprValue(v)}`,
    );
    return `{${entries.join(", ")}}`;
  }
  return String(value);
}

function pyReprValue(value: unknown): string {
  return typeof value === "string" ? pyReprString(value) : pyStr(value);
}

function pyFloat(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) || !Number.isFinite(value) ? text : `${text}.0`;
}

/** Python's `json.dumps(value)` with default arguments: `", "` / `": "` separators and ASCII-only output. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === "string") return asciiJsonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `${asciiJsonString(k)}: ${pythonJsonDumps(v)}`,
  );
  return `{${entries.join(", ")}}`;
}

function asciiJsonString(value: string): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** IM's error page under `Accept: text/html` (`HTML_ERROR_TEMPLATE`), byte for byte. */
export function htmlErrorPage(status: number, message: string): string {
  return (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n' +
    "<html>\n" +
    "    <head>\n" +
    `        <title>Error ${status}.</title>\n` +
    "    </head>\n" +
    "    <body>\n" +
    `        <h1>Code: ${status}.</h1>\n` +
    `        <h1>Message: ${message}</h1>\n` +
    "    </body>\n" +
    "</html>\n"
  );
}

/** Byte-level conventions that differ between the two IM server stacks. */
export class Flavour {
  constructor(readonly version: ImVersion) {}

  get isV1(): boolean {
    return this.version !== "2.0.0";
  }

  /** JSON body text: compact for Starlette's JSONResponse, spaced for Python's default `json.dumps`. */
  json(value: unknown): string {
    return this.isV1 ? pythonJsonDumps(value) : JSON.stringify(value);
  }

  /**
   * The Content-Type of a successful answer. Starlette appends `; charset=utf-8` to `text/*`; IM 1.x sets the
   * header itself (`{'Content-Type': content_type}`), so it goes out bare.
   */
  successType(mediaType: string): string {
    if (!this.isV1 && mediaType.startsWith("text/")) return `${mediaType}; charset=utf-8`;
    return mediaType;
  }

  /** The Content-Type of an error or empty text answer (Flask's `mimetype=` adds the charset too). */
  errorTextType(mediaType: "text/plain" | "text/html"): string {
    return `${mediaType}; charset=utf-8`;
  }

  /** Header name casing: Starlette lower-cases every header name, Flask keeps IM's `InfID`. */
  infIdHeader(): string {
    return this.isV1 ? "InfID" : "infid";
  }
}

/** A negotiation failure detected by {@link formatOutput}: IM answers 415. */
export class UnsupportedAccept extends Error {
  constructor(readonly accepted: string[]) {
    super(`Unsupported Accept Media Types: ${accepted.join(",")}`);
  }
}

/**
 * IM's `format_output`: walk the `Accept` list left to right; `application/json` or `application/*` gives the
 * JSON form, the endpoint's default type, `*\/*` or `text/*` gives the default form; nothing matching → 415.
 * Text forms of lists are joined by `\n` with no trailing newline.
 */
export function formatOutput(
  flavour: Flavour,
  accept: string | undefined,
  value: OutputValue,
  defaultType: string,
  fieldName?: string,
  listFieldName?: string,
  extraHeaders: Record<string, string> = {},
): WireResponse {
  let types = mediaTypes(accept);
  if (types.length === 0) types = [defaultType];
  for (const type of types) {
    if (type === "application/json" || type === "application/*") {
      return jsonAnswer(flavour, value, fieldName, listFieldName, extraHeaders);
    }
    if (type === defaultType || type === "*/*" || type === "text/*") {
      if (defaultType === "application/json")
        return jsonAnswer(flavour, value, fieldName, listFieldName, extraHeaders);
      return {
        status: 200,
        headers: { "content-type": flavour.successType(defaultType), ...extraHeaders },
        body: textForm(value),
      };
    }
  }
  throw new UnsupportedAccept(types);
}

function textForm(value: OutputValue): string {
  switch (value.kind) {
    case "text":
      return value.value;
    case "list":
      return value.value.join("\n");
    case "radl":
      return value.text;
    case "json":
      return pyStr(value.value);
  }
}

function jsonAnswer(
  flavour: Flavour,
  value: OutputValue,
  fieldName: string | undefined,
  listFieldName: string | undefined,
  extraHeaders: Record<string, string>,
): WireResponse {
  let payload: unknown;
  if (value.kind === "radl") payload = fieldName ? { [fieldName]: value.simple } : value.simple;
  else {
    const raw = value.value;
    if (fieldName && listFieldName && Array.isArray(raw)) {
      payload = { [fieldName]: raw.map((item) => ({ [listFieldName]: item })) };
    } else payload = fieldName ? { [fieldName]: raw } : raw;
  }
  return {
    status: 200,
    headers: { "content-type": "application/json", ...extraHeaders },
    body: flavour.json(payload),
  };
}

/**
 * IM's `return_error`: `{"message", "code"}` when the `Accept` list contains exactly `application/json`, the HTML
 * page when it contains `text/html`, plain text otherwise (including no `Accept` at all).
 */
export function errorResponse(
  flavour: Flavour,
  accept: string | undefined,
  status: number,
  message: string,
  extraHeaders: Record<string, string> = {},
): WireResponse {
  const types = mediaTypes(accept);
  if (types.includes("application/json")) {
    return {
      status,
      headers: { "content-type": "application/json", ...extraHeaders },
      body: flavour.json({ message, code: status }),
    };
  }
  if (types.includes("text/html")) {
    return {
      status,
      headers: { "content-type": flavour.errorTextType("text/html"), ...extraHeaders },
      body: htmlErrorPage(status, message),
    };
  }
  return {
    status,
    headers: { "content-type": flavour.errorTextType("text/plain"), ...extraHeaders },
    body: message,
  };
}

/** An empty successful `text/plain` answer (DELETE, reconfigure, start/stop…). */
export function emptyText(flavour: Flavour, extraHeaders: Record<string, string> = {}): WireResponse {
  return {
    status: 200,
    headers: { "content-type": flavour.successType("text/plain"), ...extraHeaders },
    body: "",
  };
}
