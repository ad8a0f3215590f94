/**
 * The small part of RADL (IM's own description language, `grycap/radl`) the simulator needs: enough to accept
 * the RADL and RADL-JSON bodies IM accepts for create / add / reconfigure / resize, and to print the RADL text
 * and RADL-JSON that `/radl` and `/vms/<n>` return. Krake itself only speaks TOSCA; RADL is here so that the
 * simulator answers every body type IM answers instead of misleading a client with a 415.
 *
 * Supported statements: `network`, `system`, `deploy`, `contextualize`, `configure` (its recipe is kept
 * opaque) and `description`. Features are `name op value` joined by `and`; `contains` blocks are skipped.
 */
import type { RadlFeature, RadlNetwork, RadlSystem } from "./tosca.js";

/** A parsed RADL document. */
export interface RadlDocument {
  networks: RadlNetwork[];
  systems: RadlSystem[];
  deploys: Array<{ system: string; count: number; cloudId?: string }>;
  /** `contextualize ()` with no items disables contextualization; absent means "contextualize everything". */
  contextualizeItems: number | null;
  configures: string[];
}

/** A RADL body IM could not parse; `message` follows IM after `Error parsing request body: `. */
export class RadlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RadlParseError";
  }
}

/** An empty RADL (IM's `RADL()`): what an empty request body means. */
export function emptyRadl(): RadlDocument {
  return { networks: [], systems: [], deploys: [], contextualizeItems: null, configures: [] };
}

interface Token {
  type: string;
  value: string;
  line: number;
  pos: number;
}

const RESERVED: Record<string, string> = {
  network: "NETWORK",
  system: "SYSTEM",
  deploy: "DEPLOY",
  configure: "CONFIGURE",
  contextualize: "CONTEXTUALIZE",
  description: "DESCRIPTION",
  and: "AND",
  contains: "CONTAINS",
  with: "WITH",
  step: "STEP",
};

/** Byte multipliers of RADL memory/disk units (binary, as RADL uses them: `512m` = 536870912). */
const RADL_UNITS: Record<string, number> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const push = (type: string, value: string, pos: number) => tokens.push({ type, value, line, pos });
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\n") {
      line += 1;
      i += 1;
    } else if (/\s/.test(ch)) i += 1;
    else if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i += 1;
    } else if (text.startsWith("@begin", i)) {
      const end = text.indexOf("@end", i);
      if (end === -1) throw new RadlParseError("Parse error in: None");
      push("RECIPE", text.slice(i + 6, end), i);
      line += text.slice(i, end).split("\n").length - 1;
      i = end + 4;
    } else if (ch === "(" || ch === ")") {
      push(ch === "(" ? "LPAREN" : "RPAREN", ch, i);
      i += 1;
    } else if (ch === ",") {
      push("COMMA", ch, i);
      i += 1;
    } else if (text.startsWith(">=", i) || text.startsWith("<=", i)) {
      push(text[i] === ">" ? "GE" : "LE", text.slice(i, i + 2), i);
      i += 2;
    } else if (ch === "=" || ch === ">" || ch === "<") {
      push(ch === "=" ? "EQ" : ch === ">" ? "GT" : "LT", ch, i);
      i += 1;
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== ch) {
        if (text[j] === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
        } else value += text[j++];
      }
      if (j >= text.length) throw new RadlParseError("Parse error in: None");
      push("STRING", value, i);
      i = j + 1;
    } else if (/[0-9]/.test(ch)) {
      const match = /^\d+(\.\d+)?/.exec(text.slice(i)) as RegExpExecArray;
      push(match[1] ? "REAL" : "NUMBER", match[0], i);
      i += match[0].length;
    } else if (/[a-zA-Z_.]/.test(ch)) {
      const match = /^[a-zA-Z_.][\w.-]*/.exec(text.slice(i)) as RegExpExecArray;
      push(RESERVED[match[0]] ?? "VAR", match[0], i);
      i += match[0].length;
    } else {
      throw new RadlParseError(`Illegal character '${ch}'`);
    }
  }
  return tokens;
}

/** PLY's error text: `Parse error in: LexToken(TYPE,'value',line,pos)`, or `None` at the end of the input. */
function parseError(token: Token | undefined): RadlParseError {
  if (!token) return new RadlParseError("Parse error in: None");
  return new RadlParseError(
    `Parse error in: LexToken(${token.type},'${token.value}',${token.line},${token.pos})`,
  );
}

/** Parses RADL text (IM's `parse_radl`). */
export function parseRadlText(text: string): RadlDocument {
  const tokens = tokenize(text);
  const doc = emptyRadl();
  let at = 0;
  const peek = () => tokens[at];
  const take = (type: string): Token => {
    const token = tokens[at];
    if (!token || token.type !== type) throw parseError(token);
    at += 1;
    return token;
  };
  const features = (): RadlFeature[] => {
    const list: RadlFeature[] = [];
    if (peek()?.type === "RPAREN") return list;
    for (;;) {
      const name = take("VAR").value;
      const opToken = peek();
      if (opToken?.type === "CONTAINS") {
        at += 1;
        take("LPAREN");
        features();
        take("RPAREN");
      } else {
        const op =
          opToken?.type === "GE" || opToken?.type === "GT"
            ? ">="
            : opToken?.type === "LE" || opToken?.type === "LT"
              ? "<="
              : opToken?.type === "EQ"
                ? "="
                : undefined;
        if (!op) throw parseError(opToken);
        at += 1;
        const valueToken = peek();
        if (valueToken?.type === "STRING") {
          at += 1;
          list.push({ name, op, value: valueToken.value });
        } else if (valueToken?.type === "NUMBER" || valueToken?.type === "REAL") {
          at += 1;
          const unitToken = peek();
          const number = Number(valueToken.value);
          if (unitToken?.type === "VAR" && /^[bkmgtBKMGT]$/.test(unitToken.value)) {
            at += 1;
            list.push({ name, op, value: number, unit: unitToken.value.toUpperCase() });
          } else list.push({ name, op, value: number });
        } else throw parseError(valueToken);
      }
      if (peek()?.type !== "AND") return list;
      at += 1;
    }
  };
  const block = (): RadlFeature[] => {
    if (peek()?.type !== "LPAREN") return [];
    at += 1;
    const list = features();
    take("RPAREN");
    return list;
  };
  while (at < tokens.length) {
    const token = tokens[at++];
    switch (token.type) {
      case "NETWORK": {
        const id = take("VAR").value;
        const feats = block();
        const outbound = feats.find((f) => f.name === "outbound");
        doc.networks.push({ id, outbound: outbound?.value === "yes" });
        break;
      }
      case "SYSTEM": {
        const name = take("VAR").value;
        const feats = block();
        doc.systems.push({
          name,
          features: feats.filter((f) => !/^net_interface\.\d+\.connection$/.test(f.name)),
          interfaces: interfacesOf(feats),
        });
        break;
      }
      case "DEPLOY": {
        const system = take("VAR").value;
        const count = Number(take("NUMBER").value);
        const cloud = peek()?.type === "VAR" ? tokens[at++].value : undefined;
        doc.deploys.push(cloud ? { system, count, cloudId: cloud } : { system, count });
        break;
      }
      case "CONTEXTUALIZE": {
        if (peek()?.type === "NUMBER") at += 1;
        take("LPAREN");
        let items = 0;
        while (peek() && peek().type !== "RPAREN") {
          take("SYSTEM");
          take("VAR");
          take("CONFIGURE");
          take("VAR");
          if (peek()?.type === "STEP") {
            at += 1;
            take("NUMBER");
          }
          if (peek()?.type === "WITH") {
            at += 1;
            take("VAR");
          }
          items += 1;
        }
        take("RPAREN");
        doc.contextualizeItems = items;
        break;
      }
      case "CONFIGURE": {
        const name = take("VAR").value;
        take("LPAREN");
        if (peek()?.type === "RECIPE") at += 1;
        take("RPAREN");
        doc.configures.push(name);
        break;
      }
      case "DESCRIPTION": {
        take("VAR");
        block();
        break;
      }
      default:
        throw parseError(token);
    }
  }
  checkReferences(doc);
  return doc;
}

function interfacesOf(features: RadlFeature[]): Array<{ index: number; network: string }> {
  return features
    .map((f) => ({ match: /^net_interface\.(\d+)\.connection$/.exec(f.name), value: f.value }))
    .filter((f) => f.match !== null)
    .map((f) => ({ index: Number((f.match as RegExpExecArray)[1]), network: String(f.value) }))
    .sort((a, b) => a.index - b.index);
}

function checkReferences(doc: RadlDocument): void {
  for (const deploy of doc.deploys) {
    if (!doc.systems.some((s) => s.name === deploy.system)) {
      throw new RadlParseError(`Invalid reference to system ${deploy.system} in deploy`);
    }
  }
}

/** Parses RADL-JSON (IM's `parse_radl_json`): a list of objects with `class`. */
export function parseRadlJson(text: string): RadlDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RadlParseError("Expecting value: line 1 column 1 (char 0)");
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const doc = emptyRadl();
  for (const entry of list) {
    if (typeof entry !== "object" || entry === null) throw new RadlParseError("Error parsing JSON RADL data");
    const obj = entry as Record<string, unknown>;
    switch (obj.class) {
      case "network":
        doc.networks.push({ id: String(obj.id), outbound: obj.outbound === "yes" });
        break;
      case "system": {
        const feats = simpleToFeatures(obj);
        doc.systems.push({
          name: String(obj.id),
          features: feats.filter((f) => !/^net_interface\.\d+\.connection$/.test(f.name)),
          interfaces: interfacesOf(feats),
        });
        break;
      }
      case "deploy":
        doc.deploys.push({
          system: String(obj.system),
          count: Number(obj.vm_number ?? 1),
          ...(typeof obj.cloud_id === "string" ? { cloudId: obj.cloud_id } : {}),
        });
        break;
      case "contextualize":
        doc.contextualizeItems = Array.isArray(obj.items) ? obj.items.length : 0;
        break;
      case "configure":
        doc.configures.push(String(obj.id));
        break;
      case "description":
        break;
      default:
        throw new RadlParseError(`Error parsing JSON RADL data: unknown class ${String(obj.class)}`);
    }
  }
  checkReferences(doc);
  return doc;
}

function simpleToFeatures(obj: Record<string, unknown>): RadlFeature[] {
  const feats: RadlFeature[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (key === "class" || key === "id") continue;
    if (typeof value !== "string" && typeof value !== "number") continue;
    if (key.endsWith("_min")) feats.push({ name: key.slice(0, -4), op: ">=", value });
    else if (key.endsWith("_max")) feats.push({ name: key.slice(0, -4), op: "<=", value });
    else feats.push({ name: key, op: "=", value });
  }
  return feats;
}

/** A feature in RADL text: strings single-quoted, numbers with their unit (`2000000000B`, `4096M`). */
export function featureText(feature: RadlFeature): string {
  const value =
    typeof feature.value === "string"
      ? `'${feature.value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`
      : `${feature.value}${feature.unit ?? ""}`;
  return `${feature.name} ${feature.op} ${value}`;
}

/** A network line: `network private_net ( outbound = 'no' )`. */
export function networkText(network: RadlNetwork): string {
  return `network ${network.id} ( outbound = '${network.outbound ? "yes" : "no"}' )`;
}

/** A system block: `system front (\n<feature> and\n<feature>\n)`. */
export function systemText(name: string, features: readonly RadlFeature[]): string {
  return `system ${name} (\n${features.map(featureText).join(" and\n")}\n)`;
}

/** A feature in RADL-JSON (`radlToSimple`): `_min`/`_max` suffixes, sizes in bytes. */
export function featuresToSimple(features: readonly RadlFeature[]): Record<string, unknown> {
  const simple: Record<string, unknown> = {};
  for (const f of features) {
    const key = f.op === ">=" ? `${f.name}_min` : f.op === "<=" ? `${f.name}_max` : f.name;
    simple[key] =
      typeof f.value === "number" && f.unit ? Math.round(f.value * (RADL_UNITS[f.unit] ?? 1)) : f.value;
  }
  return simple;
}
