/** Configuration: ION's TOML shape + edge-signal's own sections + environment overrides. */
export * from "./config.js";
