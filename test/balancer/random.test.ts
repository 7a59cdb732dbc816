// Uniform random choice (src/balancer/random.ts) through createBalancer: 10,000 picks are even.
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig } from "../../src/balancer/index.js";
import { assertEven, ctx, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const N = 10_000;

describe("spreading strategies", () => {
  test("random: 10,000 picks are even within ±10%", () => {
    const b = createBalancer(parseBalancerConfig({ default: "random" }), { random: seeded(11) });
    const picks = Array.from({ length: N }, () => sync(b.pick("rtc", nodes, ctx()))!.nid);
    assertEven(tally(picks), N);
  });
});
