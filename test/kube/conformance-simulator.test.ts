/**
 * The Kubernetes conformance suite (conformance.ts) against the simulator (src/sandbox/kube): the same
 * assertions the real kube-apiserver passes.
 */
import { kubeConformance } from "./conformance.js";
import { startKubeSimulator } from "../../src/sandbox/kube/simulator.js";

kubeConformance("Kubernetes API simulator", async () => {
  const sim = await startKubeSimulator();
  const cluster = sim.addCluster("conformance");
  return {
    kubeconfig: cluster.kubeconfig as unknown as Record<string, unknown>,
    controllers: true,
    close: () => sim.close(),
  };
});
