/**
 * `rok kube cluster events NAME [--watch]`: the decisions the controllers recorded about an object
 * (`status.events`, newest last, the last 50 kept; docs/autoscaling.md) as a table, or as json/yaml. With
 * `--watch`, the history and then every new event as it is recorded, followed through the API watch (never
 * by polling) until Ctrl-C or the object is gone.
 */
import { KrakeApiError, type KindClient } from "../../client/index.js";
import type { Resource } from "../../resources/kind.js";
import { cell, renderValue, sortKeys } from "./output.js";
import { columnWidths, renderTable, tableRowLines, tableRule, terminalWidth } from "./table.js";

export interface ObjectEvent {
  time: string;
  type: string;
  reason: string;
  message: string;
  source: string;
}

export type EventFormat = "table" | "json" | "yaml";

export const EVENT_HEADERS = ["time", "type", "reason", "message", "source"];

export function eventsOf(o: Resource | undefined): ObjectEvent[] {
  const events = o?.status?.events;
  return Array.isArray(events) ? events : [];
}

function eventRow(e: ObjectEvent): string[] {
  return [cell(e.time), cell(e.type), cell(e.reason), cell(e.message), cell(e.source)];
}

/** The whole history at once: a table, or the list as json/yaml. */
export function renderEvents(events: ObjectEvent[], format: EventFormat, width = terminalWidth()): string {
  if (format !== "table") return renderValue(events, format);
  return renderTable([EVENT_HEADERS, ...events.map(eventRow)], true, width);
}

const sameEvent = (a: ObjectEvent, b: ObjectEvent) =>
  a.time === b.time &&
  a.type === b.type &&
  a.reason === b.reason &&
  a.message === b.message &&
  a.source === b.source;

/**
 * The events of `current` that `seen` did not have. The history only grows at its end and loses its oldest
 * entries, so `current` is a suffix of `seen` followed by the new events: the longest suffix of `seen`
 * that `current` starts with is what was already shown. Nothing in common: everything is new.
 */
export function appendedEvents(seen: ObjectEvent[], current: ObjectEvent[]): ObjectEvent[] {
  for (let k = Math.min(seen.length, current.length); k > 0; k--) {
    const tail = seen.slice(seen.length - k);
    if (tail.every((e, i) => sameEvent(e, current[i]))) return current.slice(k);
  }
  return current;
}

/**
 * Prints events as they come. A table cannot be measured before its rows are known, so the columns are
 * sized once, from the history and room for typical reasons and messages, and later rows wrap within them;
 * json prints one event per line (NDJSON), yaml one document per event.
 */
export function eventStream(
  format: EventFormat,
  history: ObjectEvent[],
  write: (text: string) => void,
  width = terminalWidth(),
): { add(events: ObjectEvent[]): void } {
  if (format === "json")
    return { add: (events) => events.forEach((e) => write(JSON.stringify(sortKeys(e)) + "\n")) };
  if (format === "yaml")
    return { add: (events) => events.forEach((e) => write("---\n" + renderValue(e, "yaml"))) };
  const room = ["0000-00-00 00:00:00", "Warning", "x".repeat(16), "x".repeat(60), "x".repeat(10)];
  const widths = columnWidths([EVENT_HEADERS, room, ...history.map(eventRow)], width);
  write(
    [tableRule(widths), ...tableRowLines(EVENT_HEADERS, widths), tableRule(widths, "=")].join("\n") + "\n",
  );
  return {
    add: (events) => {
      for (const e of events)
        write([...tableRowLines(eventRow(e), widths), tableRule(widths)].join("\n") + "\n");
    },
  };
}

/**
 * Follows one object through the API watch, calling `onVersion` with each new version of it, until `signal`
 * aborts ("stopped") or the object is gone ("deleted"). A stream that ends (server restart, proxy timeout)
 * or history that was compacted (410) is resumed from a fresh GET, as `--wait` does (wait.ts).
 */
export async function followObject(
  kc: KindClient,
  start: Resource,
  signal: AbortSignal,
  onVersion: (o: Resource) => void,
): Promise<"deleted" | "stopped"> {
  const name = start.metadata.name;
  const ns = kc.def.namespaced ? start.metadata.namespace : null;
  let from: string | undefined = start.metadata.resource_version ?? undefined;
  while (!signal.aborted) {
    try {
      for await (const event of kc.watch(ns, { resourceVersion: from, signal, heartbeat: 10 })) {
        const o = event.object;
        if (event.type === "ERROR" || o?.metadata?.name !== name) continue;
        from = o.metadata.resource_version ?? from;
        if (event.type === "DELETED") return "deleted";
        onVersion(o);
      }
    } catch (err) {
      if (signal.aborted) return "stopped";
      if (!(err instanceof KrakeApiError && err.status === 410)) throw err;
    }
    if (signal.aborted) return "stopped";
    try {
      const fresh = await kc.get(name, ns, { signal });
      onVersion(fresh);
      from = fresh.metadata.resource_version ?? undefined;
    } catch (err) {
      if (signal.aborted) return "stopped";
      if (err instanceof KrakeApiError && err.status === 404) return "deleted";
      throw err;
    }
  }
  return "stopped";
}
