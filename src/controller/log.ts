/** Controller logs: JSON lines, secrets redacted wherever a controller might pass an object with them. */
import pino, { type Logger } from "pino";

import { secretRedactingLogOptions } from "../util/log-redact.js";

export type { Logger };

/** JSON lines to stdout, or to `destination` (`krake up` keeps stdout for people). */
export function controllerLogger(name: string, level = "info", destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
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
    // The paths above reach two levels; this reaches every level.
    ...secretRedactingLogOptions,
  };
  return destination ? pino(options, destination) : pino(options);
}
