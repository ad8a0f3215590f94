/**
 * Plain-text tables sized to the terminal (cli.md §1.3): cells wrap so that the table never exceeds the
 * width; 80 columns when stdout is not a terminal, so piped output is stable.
 */

export function terminalWidth(): number {
  // $COLUMNS wins, as for other tools: it lets scripts (and tests) ask for unwrapped tables.
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 20) return env;
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 80;
}

/** Splits text into lines no longer than `width`, at spaces when possible. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    let rest = line;
    while (rest.length > width) {
      const cut = rest.lastIndexOf(" ", width);
      const at = cut > 0 ? cut : width;
      out.push(rest.slice(0, at));
      rest = rest.slice(cut > 0 ? at + 1 : at);
    }
    out.push(rest);
  }
  return out;
}

/**
 * Column widths that fit `total`: columns narrower than a fair share keep their natural width, the others
 * share what is left equally (so a long URL wraps rather than squeezing the short name column).
 */
function fitWidths(natural: number[], total: number): number[] {
  const widths = natural.map((w) => Math.max(w, 1));
  let available = total - (3 * widths.length + 1);
  if (widths.reduce((a, b) => a + b, 0) <= available) return widths;
  let open = widths.map((_, i) => i);
  for (;;) {
    const fair = Math.floor(available / Math.max(open.length, 1));
    const fitting = open.filter((i) => widths[i] <= fair);
    if (fitting.length === 0) {
      // Whatever remains is shared; a few characters at least, even if the table then overflows.
      let extra = available - fair * open.length;
      for (const i of open) widths[i] = Math.max(4, fair + (extra-- > 0 ? 1 : 0));
      return widths;
    }
    for (const i of fitting) available -= widths[i];
    open = open.filter((i) => widths[i] > fair);
  }
}

/** Widths of the columns of `rows` (cells may span lines) fitted to `width`. */
export function columnWidths(rows: string[][], width = terminalWidth()): number[] {
  const columns = Math.max(...rows.map((r) => r.length), 1);
  const natural = Array.from({ length: columns }, (_, c) =>
    Math.max(1, ...rows.map((r) => Math.max(0, ...(r[c] ?? "").split("\n").map((l) => l.length)))),
  );
  return fitWidths(natural, width);
}

/** A horizontal rule of a table with these column widths: `-` between rows, `=` under the header. */
export function tableRule(widths: number[], ch: "-" | "=" = "-"): string {
  return "+" + widths.map((w) => ch.repeat(w + 2)).join("+") + "+";
}

/** The lines of one row, its cells wrapped to the column widths (without the rule under it). */
export function tableRowLines(row: string[], widths: number[]): string[] {
  const cells = widths.map((w, c) => wrap(row[c] ?? "", w));
  const height = Math.max(...cells.map((c) => c.length));
  const lines: string[] = [];
  for (let l = 0; l < height; l++) {
    lines.push("| " + cells.map((cell, c) => (cell[l] ?? "").padEnd(widths[c])).join(" | ") + " |");
  }
  return lines;
}

/** Renders rows (the first one a header when `header` is true) as a bordered table. */
export function renderTable(rows: string[][], header: boolean, width = terminalWidth()): string {
  const widths = columnWidths(rows, width);
  const lines = [tableRule(widths)];
  rows.forEach((row, i) => {
    lines.push(...tableRowLines(row, widths));
    lines.push(tableRule(widths, header && i === 0 ? "=" : "-"));
  });
  return lines.join("\n") + "\n";
}
