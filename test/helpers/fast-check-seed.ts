/**
 * Preloaded by `scripts/test.sh`: the seed of every fast-check property. Under CI it is fixed (so a
 * landing is not decided by which random cases a run happens to draw); locally it is random, so each
 * run explores new cases. `FC_SEED=<n>` replays a seed that a failure printed, anywhere.
 */
import fc from "fast-check";

const fromEnv = process.env.FC_SEED;
const seed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : process.env.CI ? 20261126 : undefined;
if (seed !== undefined && Number.isInteger(seed)) fc.configureGlobal({ seed });
