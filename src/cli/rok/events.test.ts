import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendedEvents, eventStream, renderEvents, type ObjectEvent } from "./events.js";

const ev = (n: number, reason = `R${n}`): ObjectEvent => ({
  time: `2030-01-01T00:00:${String(n).padStart(2, "0")}+00:00`,
  type: n % 2 ? "Warning" : "Normal",
  reason,
  message: `message ${n}`,
  source: "autoscaler",
});

describe("events", () => {
  it("appendedEvents: what was added at the end, also when the oldest were dropped", () => {
    const [a, b, c, d] = [ev(1), ev(2), ev(3), ev(4)];
    assert.deepEqual(appendedEvents([], [a, b]), [a, b]);
    assert.deepEqual(appendedEvents([a, b], [a, b]), []);
    assert.deepEqual(appendedEvents([a, b], [a, b, c]), [c]);
    assert.deepEqual(appendedEvents([a, b, c], [b, c, d]), [d], "the oldest dropped as one was added");
    assert.deepEqual(appendedEvents([a, b, c], [c, d]), [d]);
    assert.deepEqual(appendedEvents([a, b], [c, d]), [c, d], "nothing in common: all new");
    assert.deepEqual(appendedEvents([a, b], []), []);
    // Identical events twice in a row: the overlap, not the first match, decides.
    assert.deepEqual(appendedEvents([a, b], [a, b, b]), [b]);
  });

  it("renderEvents: a table with UTC times, or the list as json", () => {
    const table = renderEvents([ev(2, "ScaledUp")], "table", 100);
    assert.match(table, /\| time +\| type +\| reason +\| message +\| source +\|/);
    assert.match(table, /\| 2030-01-01 00:00:02 \| Normal \| ScaledUp \| message 2 \| autoscaler \|/);
    assert.deepEqual(JSON.parse(renderEvents([ev(2)], "json")), [ev(2)]);
  });

  it("eventStream: a header, then rows as they come, all of one width; json one line per event", () => {
    const out: string[] = [];
    const table = eventStream("table", [ev(1)], (s) => out.push(s), 80);
    table.add([ev(1)]);
    table.add([ev(2, "a-much-longer-reason-than-the-others")]);
    const lines = out.join("").trimEnd().split("\n");
    assert.match(lines[1], /^\| time +\| type +\| reason +\| message +\| source +\|$/);
    assert.ok(
      lines.every((l) => l.length === lines[0].length && l.length <= 80),
      lines.join("\n"),
    );
    const json: string[] = [];
    const stream = eventStream("json", [], (s) => json.push(s));
    stream.add([ev(1), ev(2)]);
    assert.deepEqual(
      json
        .join("")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [ev(1), ev(2)],
    );
    const yaml: string[] = [];
    eventStream("yaml", [], (s) => yaml.push(s)).add([ev(1)]);
    assert.match(yaml.join(""), /^---\nmessage: message 1\n/);
  });
});
