/**
 * Kubernetes resource quantities (`100m`, `1.5Gi`, `2e3`) as numbers, and the units Krake keeps capacity in:
 * cpu in millicores, memory in bytes.
 */
const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A resource quantity as a number (`100m` → 0.1, `1Gi` → 1073741824); NaN when it is not one. */
export function parseQuantity(q: unknown): number {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return NaN;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/.exec(
    q.trim(),
  );
  if (!m) return NaN;
  const n = Number(m[1]);
  if (m[2]) return n * BINARY[m[2]];
  if (m[3]) return n * 10 ** Number(m[3].slice(1));
  return n * DECIMAL[m[4] ?? ""];
}

/** cpu quantity → millicores (rounded up: 0.1m still needs a slice); NaN when it is not a quantity. */
export function cpuMillis(q: unknown): number {
  return Math.ceil(parseQuantity(q) * 1000 - 1e-9);
}

/** A memory quantity in bytes; NaN when it is not a quantity. */
export function memoryBytes(q: unknown): number {
  return Math.ceil(parseQuantity(q));
}

/** Millicores as Kubernetes writes them: `500m`, `2`. */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Bytes in the largest binary unit that keeps them whole-ish: `512Mi`, `7.5Gi`. */
export function formatMemory(bytes: number): string {
  for (const [unit, size] of [
    ["Ti", 2 ** 40],
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const) {
    if (bytes >= size) return `${Math.round((bytes / size) * 10) / 10}${unit}`;
  }
  return String(bytes);
}
