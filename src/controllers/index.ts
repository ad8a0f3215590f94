/** The controllers `krake controller <name>` can run, by name. */
import type { ControllerFactory } from "../controller/process.js";
import { GarbageCollector } from "./gc/gc.js";
import {
  InfrastructureController,
  type InfrastructureControllerOptions,
} from "./infrastructure/infrastructure.js";
import { Scheduler, type SchedulerOptions } from "./scheduler/scheduler.js";

export interface ControllerSettings {
  workers?: number;
  scheduler?: SchedulerOptions;
  infrastructure?: InfrastructureControllerOptions;
}

export const CONTROLLER_NAMES = ["scheduler", "gc", "infrastructure"] as const;
export type ControllerName = (typeof CONTROLLER_NAMES)[number];

export function controllerFactory(
  name: ControllerName,
  settings: ControllerSettings = {},
): ControllerFactory {
  switch (name) {
    case "scheduler":
      return (ctx) => new Scheduler(ctx, { workers: settings.workers, ...settings.scheduler });
    case "gc":
      return (ctx) => new GarbageCollector(ctx, { workers: settings.workers });
    case "infrastructure":
      return (ctx) =>
        new InfrastructureController(ctx, { workers: settings.workers, ...settings.infrastructure });
  }
}
