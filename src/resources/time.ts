/**
 * Krake serialises datetimes as ISO-8601 with microseconds and an explicit UTC offset,
 * e.g. `2026-11-22T13:40:20.304814+00:00`. Python clients parse exactly that shape.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

let lastMicros = 0;

/** Now, in Krake's format. Successive calls in one process never return the same instant. */
export function now(): string {
  let micros = Date.now() * 1000;
  if (micros <= lastMicros) micros = lastMicros + 1;
  lastMicros = micros;
  return formatMicros(micros);
}

export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2026-11-22T13:40:20.304Z
  const fraction = String(micros % 1000).padStart(3, "0");
  return `${iso.slice(0, 23)}${fraction}+00:00`;
}

/** Any ISO-8601 datetime → Krake's canonical UTC form; null if it is not a datetime. */
export function normalizeDatetime(input: string): string | null {
  const m = ISO.exec(input.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = "0", frac = "", zone = "Z"] = m;
  const micros6 = (frac + "000000").slice(0, 6);
  const base = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  const check = new Date(base);
  if (Number.isNaN(base) || check.getUTCDate() !== +d || check.getUTCMonth() !== +mo - 1 || +h > 23 || +mi > 59 || +s > 59)
    return null;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
  }
  const utcSecondsMs = base - offsetMinutes * 60_000;
  return formatMicros(utcSecondsMs * 1000 + Number(micros6));
}
