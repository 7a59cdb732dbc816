/** Extracts the sticky key (usually the room) of a call from its verified claims or its metadata. */
import type { StickyKeySource } from "./config.js";
import type { PickContext } from "./types.js";

/**
 * The first non-empty value among `sources`, in order: a claim that is a string or a finite number
 * (only own properties of `ctx.claims`), or the first non-empty value of a metadata key.
 * Undefined when none is present (sticky then falls back to the default strategy).
 */
export function stickyKey(ctx: PickContext, sources: readonly StickyKeySource[]): string | undefined {
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i]!;
    if (s.from === "claim") {
      const claims = ctx.claims;
      if (claims === undefined || !Object.prototype.hasOwnProperty.call(claims, s.name)) continue;
      const v = claims[s.name];
      if (typeof v === "string" && v !== "") return v;
      if (typeof v === "number" && Number.isFinite(v)) return String(v);
    } else {
      const values = ctx.metadata.get(s.name);
      if (values === undefined) continue;
      for (let j = 0; j < values.length; j++) if (values[j] !== "") return values[j];
    }
  }
  return undefined;
}
