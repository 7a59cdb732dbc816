/**
 * The config file's schema, checked for unknown keys: every table and key of the TOML must be one
 * edge-signal reads (src/config/config.ts, recorded by `configKeys()`), one of `[signal.jwt]` /
 * `[edge.auth]` (src/auth/auth-config.ts), `[edge.balancer]` (src/balancer/config.ts, which refuses
 * unknown keys itself), a route under `[edge.routes]`, a service under `[edge.go_nodes]`, or one of the ION keys edge-signal accepts and
 * ignores. A typo is reported with its path and the closest known key. Runtime-neutral.
 */
import { AUTH_FIELDS } from "../auth/auth-config.js";
import { didYouMean } from "./did-you-mean.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Keys of ION's signal.toml that edge-signal accepts unchanged and does not use: TLS is terminated in
 * front of the gateway (cert/key), origins are `[edge] allowed_origins` (ION ignores
 * allow_all_origins too), and `[avp]`, `[node]`, `[global] pprof` belong to other ION versions/services.
 */
const ionIgnoredByTable: Readonly<Record<string, readonly string[]>> = {
  "": ["avp", "node"],
  global: ["pprof"],
  "signal.grpc": ["allow_all_origins", "cert", "key"],
};

/** The paths of those keys (`signal.grpc.cert`, `avp`, …). */
export const ionIgnoredKeys: readonly string[] = Object.entries(ionIgnoredByTable).flatMap(([table, keys]) => keys.map((k) => (table ? `${table}.${k}` : k)));

/**
 * Tables whose keys other parsers own: the auth fields, the balancer, and free-form names (routes,
 * and the discovery services of `[edge.go_nodes]`, whose values config.ts checks).
 */
const authTables = new Set(["signal.jwt", "edge.auth"]);
const ownedTables = new Set(["edge.balancer", "edge.routes", "edge.go_nodes"]);

const showKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));

/** The ION keys edge-signal ignores that `raw` sets (for `edge-signal check`). */
export function ignoredIonKeys(raw: Obj): string[] {
  return ionIgnoredKeys.filter((path) => {
    let cur: unknown = raw;
    for (const part of path.split(".")) cur = isObj(cur) ? cur[part] : undefined;
    return cur !== undefined;
  });
}

/**
 * Returns one message per unknown key or table in `raw`, each naming its full path and, when one is
 * close, the key that was probably meant. `known` maps a table path ("" = top level) to the keys and
 * sub-tables read there (`configKeys()`). Values are not checked here (the parsers do).
 */
export function checkConfigKeys(raw: Obj, known: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const errors: string[] = [];
  const childrenOf = (path: string): string[] => {
    const names = new Set(known.get(path) ?? []);
    for (const p of [...authTables, ...ownedTables, ...ionIgnoredKeys]) {
      const i = p.lastIndexOf(".");
      if ((i < 0 ? "" : p.slice(0, i)) === path) names.add(p.slice(i + 1));
    }
    return [...names];
  };
  const walk = (obj: Obj, path: string): void => {
    const names = childrenOf(path);
    for (const [k, v] of Object.entries(obj)) {
      const p = path ? `${path}.${showKey(k)}` : showKey(k);
      if (ionIgnoredKeys.includes(p) || ownedTables.has(p)) continue;
      if (authTables.has(p)) {
        if (isObj(v)) for (const f of Object.keys(v)) if (!AUTH_FIELDS.has(f)) errors.push(`config: ${p}.${showKey(f)}: unknown key${didYouMean(f, AUTH_FIELDS)}`);
        continue;
      }
      if (known.has(p)) {
        if (isObj(v)) walk(v, p); // a value that is not a table is the parser's error
        continue;
      }
      if (names.includes(k)) continue;
      errors.push(`config: ${p}: unknown ${isObj(v) ? "table" : "key"}${didYouMean(k, names)}`);
    }
  };
  walk(raw, "");
  return errors;
}

/** `EDGE_SIGNAL_*` variables read outside `resolveConfig` (the Workers hub, the set-up and test scripts). */
const otherEnvNames = ["EDGE_SIGNAL_CONFIG", "EDGE_SIGNAL_CONFIG_FILE", "EDGE_SIGNAL_HUB", "EDGE_SIGNAL_HUB_BY", "EDGE_SIGNAL_HUB_NAME", "EDGE_SIGNAL_SKIP_BROWSER", "EDGE_SIGNAL_SOAK"];

/**
 * One note per `EDGE_SIGNAL_*` variable set in `env` that nothing reads (a typo is silently ignored
 * otherwise), with the closest override name. `known`: the override names (`envOverrides`' keys).
 */
export function unknownEnvNotes(env: Record<string, string | undefined>, known: Iterable<string>): string[] {
  const names = [...known, ...otherEnvNames];
  // Compared without the common prefix, so that only the part that differs decides (FOO is not DC).
  const tail = (n: string) => n.replace(/^EDGE_SIGNAL_/, "");
  return Object.keys(env)
    .filter((k) => k.startsWith("EDGE_SIGNAL_") && !names.includes(k))
    .map((k) => `environment variable ${k} is not read by edge-signal${didYouMean(tail(k), names.filter((n) => n.startsWith("EDGE_SIGNAL_")).map(tail)).replace(/"(.*)"/, '"EDGE_SIGNAL_$1"')}`);
}
