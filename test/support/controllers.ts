/**
 * A real API server plus controllers in this process, for controller integration tests: the controllers
 * talk HTTP to the API exactly as `krake controller` does.
 */
import pino from "pino";
import { startControllers, type RunningControllers } from "../../src/controller/process.js";
import { MetricsRegistry } from "../../src/controller/metrics.js";
import {
  controllerFactory,
  type ControllerName,
  type ControllerSettings,
} from "../../src/controllers/index.js";
import { startTestApi, type TestApi } from "./api.js";

export interface ControlPlane {
  api: TestApi;
  controllers: RunningControllers;
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

export async function startControlPlane(
  names: ControllerName[],
  settings: ControllerSettings = {},
): Promise<ControlPlane> {
  const api = await startTestApi();
  const metrics = new MetricsRegistry();
  const controllers = await startControllers({
    client: api.client,
    log: pino({ level: process.env.KRAKE_TEST_LOG ?? "silent" }),
    controllers: names.map((name) => ({ name, create: controllerFactory(name, settings) })),
    leaderElection: false,
    metricsAddress: null,
    metrics,
  });
  return {
    api,
    controllers,
    metrics,
    async close() {
      await controllers.stop();
      await api.close();
    },
  };
}

/**
 * One more controller against `api`, in its own process-like instance: a test can stop it in the middle of
 * its work (as a crash would) and start a fresh copy that starts from what the API says.
 */
export async function startController(
  api: TestApi,
  name: ControllerName,
  settings: ControllerSettings = {},
  metrics: MetricsRegistry = new MetricsRegistry(),
): Promise<RunningControllers> {
  return startControllers({
    client: api.client,
    log: pino({ level: process.env.KRAKE_TEST_LOG ?? "silent" }),
    controllers: [{ name, create: controllerFactory(name, settings) }],
    leaderElection: false,
    metricsAddress: null,
    metrics,
  });
}
