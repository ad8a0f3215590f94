/** Semantic validators of resource fields: pure functions returning issues, never throwing. */
export { checkResourceName, checkResourceNamespace, isValidResourceName } from "./names.js";
export {
  checkLabels,
  isValidLabelKey,
  isValidLabelValue,
  labelKeyProblem,
  labelValueProblem,
} from "./labels.js";
export {
  ConstraintSyntaxError,
  checkLabelConstraints,
  checkMetricConstraints,
  formatLabelConstraint,
  formatMetricConstraint,
  matchesLabels,
  matchesMetric,
  parseLabelConstraint,
  parseMetricConstraint,
  type LabelConstraint,
  type MetricConstraint,
  type MetricOperator,
} from "./constraints.js";
export { checkKubeconfig } from "./kubeconfig.js";
export { TOSCA_VERSIONS, checkAppTosca, checkClusterTosca, checkCsar } from "./tosca.js";
export {
  ToscaYamlError,
  TOSCA_YAML_MAX_ALIASES,
  TOSCA_YAML_MAX_BYTES,
  parseToscaYaml,
} from "./tosca-yaml.js";
export { checkManifest, checkObserverSchema } from "./manifest.js";
export { checkApplicationSpec, isGiven } from "./application.js";
export { checkClusterSpec } from "./cluster.js";
export { checkGlobalCloud, checkGlobalCloudSpec, checkImProviderSpec } from "./infrastructure.js";
