/** The Krake version our API answers with: clients check it, and we are wire-compatible with 1.0.1. */
export const VERSION = "1.0.1";
