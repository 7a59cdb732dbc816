/** Configuration: ION's TOML shape + edge-signal's own sections + environment overrides. */
export * from "./config.js";
export { redactConfig } from "./redact-config.js";
export { checkConfigKeys, ignoredIonKeys, ionIgnoredKeys, unknownEnvNotes } from "./schema.js";
export { didYouMean } from "./did-you-mean.js";
