/**
 * The decision history controllers keep on an object (`status.events`): what they decided, when and why, for
 * `rok kube cluster events`. Bounded, newest last.
 */
import { EVENTS_KEPT } from "../resources/kinds/autoscaling.js";

export interface ObjectEvent {
  time: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** The controller that decided. */
  source: string;
}

/** `events` with `event` appended, the last {@link EVENTS_KEPT} kept. */
export function withEvent(events: readonly ObjectEvent[] | undefined, event: ObjectEvent): ObjectEvent[] {
  return [...(events ?? []), event].slice(-EVENTS_KEPT);
}
