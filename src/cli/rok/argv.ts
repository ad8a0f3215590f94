/**
 * argparse lets krakectl flags take several values (`--metric NAME WEIGHT`, `-i K=V K=V`, `--hook-shutdown
 * [timeout [strategy [retries]]]`, an optional `--wait [state]`); commander cannot express those arities.
 * Before parsing, the values of such flags are folded into one `--flag=v1<SEP>v2` token. Unlike argparse,
 * a flag only takes the tokens that fit it, so `--wait my-app` leaves `my-app` as the positional NAME.
 */
export const VALUE_SEPARATOR = "\u001f";

export const WAIT_STATES = [
  "pending",
  "creating",
  "connecting",
  "running",
  "online",
  "reconciling",
  "deleting",
  "deleted",
] as const;

interface MultiValueFlag {
  long: string;
  short?: string;
  min: number;
  max: number;
  /** Whether `token` can be value number `index` of the flag; `next` is the token after it. */
  accepts: (token: string, index: number, next: string | undefined) => boolean;
}

const notAFlag = (t: string) => !t.startsWith("-") || /^-\d/.test(t);

const MULTI_VALUE_FLAGS: MultiValueFlag[] = [
  { long: "--metric", short: "-m", min: 2, max: 2, accepts: (_t, i) => i < 2 },
  { long: "--global-metric", min: 2, max: 2, accepts: (_t, i) => i < 2 },
  { long: "--inject", short: "-i", min: 1, max: Infinity, accepts: (t) => notAFlag(t) && t.includes("=") },
  { long: "--allowed-values", min: 1, max: Infinity, accepts: (t) => /^-?\d+$/.test(t.trim()) },
  {
    long: "--hook-shutdown",
    min: 0,
    max: 3,
    // [timeout [strategy [retries]]]: a number, then a strategy, then a number. A word that is not a known
    // strategy is taken only when another positional follows, so `--hook-shutdown 30 my-app` keeps the NAME
    // while `--hook-shutdown 30 typo my-app` reports the typo.
    accepts: (t, i, next) =>
      i === 1
        ? t === "give_up" || t === "delete" || (/^[a-z_-]+$/i.test(t) && next !== undefined && notAFlag(next))
        : /^\d+$/.test(t),
  },
  {
    long: "--wait",
    min: 0,
    max: 1,
    accepts: (t) => (WAIT_STATES as readonly string[]).includes(t.toLowerCase()),
  },
];

export function normaliseArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const flag = MULTI_VALUE_FLAGS.find((f) => token === f.long || token === f.short);
    if (!flag) {
      out.push(token);
      continue;
    }
    const values: string[] = [];
    while (values.length < flag.max && i + 1 + values.length < argv.length) {
      const next = argv[i + 1 + values.length];
      if (next === "--" || !flag.accepts(next, values.length, argv[i + 2 + values.length])) break;
      values.push(next);
    }
    if (values.length < flag.min) {
      // Too few values: leave the tokens alone so commander reports the usage error.
      out.push(token);
      continue;
    }
    out.push(`${flag.long}=${values.join(VALUE_SEPARATOR)}`);
    i += values.length;
  }
  return out;
}

/** The values a folded flag carried (empty for a bare optional flag). */
export function splitValues(value: string): string[] {
  return value === "" ? [] : value.split(VALUE_SEPARATOR);
}
