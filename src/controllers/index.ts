/** The controllers `krake controller <name>` can run, by name. */
import type { ControllerFactory } from "../controller/process.js";
import { ApplicationController, type ApplicationControllerOptions } from "./application/application.js";
import { Autoscaler, type AutoscalerOptions } from "./autoscaler/autoscaler.js";
import { ClusterController, type ClusterControllerOptions } from "./cluster/cluster.js";
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
  cluster?: ClusterControllerOptions;
  application?: ApplicationControllerOptions;
  autoscaler?: AutoscalerOptions;
}

export const CONTROLLER_NAMES = [
  "scheduler",
  "gc",
  "infrastructure",
  "cluster",
  "application",
  "autoscaler",
] as const;
export type ControllerName = (typeof CONTROLLER_NAMES)[number];

/**
 * The user each controller acts as: Krake's names where Krake has the controller, bound to least-privilege
 * roles in support/base_roles.yaml. A separate `krake controller` authenticates as it with a client
 * certificate of this CN; `krake up` gives each in-process controller a token for it.
 */
export const CONTROLLER_USERS: Record<ControllerName, string> = {
  scheduler: "system:scheduler",
  gc: "system:gc",
  infrastructure: "system:infrastructure",
  cluster: "system:kubernetes-cluster",
  application: "system:kubernetes-application",
  autoscaler: "system:autoscaler",
};

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
    case "cluster":
      return (ctx) => new ClusterController(ctx, { workers: settings.workers, ...settings.cluster });
    case "application":
      return (ctx) => new ApplicationController(ctx, { workers: settings.workers, ...settings.application });
    case "autoscaler":
      return (ctx) => new Autoscaler(ctx, { workers: settings.workers, ...settings.autoscaler });
  }
}
