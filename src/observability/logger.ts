/**
 * Structured logs: one JSON object per line with a level, a message and fields (a per-call id where
 * there is a call). Secrets never reach a log: fields whose names look like credentials are redacted.
 */

/** Log levels, in order. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Record<string, unknown>): Logger;
}

const secretKey = /^(authorization|cookie|set-cookie|token|jwt|key|secret|password|creds?|credentials)$/i;

/** Replaces credential-like fields with "[redacted]" (one level deep, plus metadata maps). */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (secretKey.test(k)) out[k] = "[redacted]";
    else if (v instanceof Map) {
      const o: Record<string, unknown> = {};
      for (const [mk, mv] of v) o[mk] = secretKey.test(String(mk)) ? "[redacted]" : mv;
      out[k] = o;
    } else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

/** Creates a JSON-lines logger writing to `write` (default console.log / console.error). */
export function createLogger(level: LogLevel = "info", write?: (line: string, level: LogLevel) => void, base: Record<string, unknown> = {}): Logger {
  const min = order[level];
  const out = write ?? ((line: string, l: LogLevel) => (l === "error" || l === "warn" ? console.error(line) : console.log(line)));
  const emit = (l: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[l] < min) return;
    out(JSON.stringify({ ts: new Date().toISOString(), level: l, msg, ...redact({ ...base, ...fields }) }), l);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (f) => createLogger(level, out, { ...base, ...f }),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with: () => silentLogger,
};
