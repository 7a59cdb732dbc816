/** The logging hook used by the discovery parts (defaults to silence). */

/** Severity of a discovery log line. */
export type DiscoveryLogLevel = "debug" | "info" | "warn" | "error";

/** A structured log callback: `log("warn", "malformed discovery message", { subject })`. */
export type DiscoveryLog = (level: DiscoveryLogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** Logs nothing. */
export const silentLog: DiscoveryLog = () => {};

/** A short description of a thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
