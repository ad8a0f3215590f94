/** Controller logs: JSON lines, secrets redacted wherever a controller might pass an object with them. */
import pino, { type Logger } from "pino";

export type { Logger };

export function controllerLogger(name: string, level = "info"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        "*.password",
        "*.token",
        "*.secret",
        "*.kubeconfig",
        "*.*.password",
        "*.*.token",
        "*.*.kubeconfig",
      ],
      censor: "<hidden>",
    },
  });
}
