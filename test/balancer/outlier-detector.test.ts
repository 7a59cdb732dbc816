// Outlier ejection: exponential back-off (1 s doubling to 30 s) on no_responders / timeout, reset
// on any answer, bursts counted once, ejected nodes skipped, and panic mode when all are ejected.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig } from "../../src/balancer/index.js";
import { ctx, fakeClock, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];

function setup(strategy = "p2c") {
  const clock = fakeClock();
  const b = createBalancer(parseBalancerConfig({ default: strategy }), { now: clock.now, random: seeded(21) });
  const picks = (n: number, exclude?: string[]) =>
    tally(Array.from({ length: n }, () => sync(b.pick("rtc", nodes, ctx({}, exclude ? { exclude } : {})))?.nid));
  return { clock, b, picks };
}

/** Length of the current ejection of `nid`, measured by stepping the fake clock in 100 ms steps. */
function ejectionLength(b: ReturnType<typeof setup>["b"], clock: ReturnType<typeof fakeClock>, nid: string): number {
  let ms = 0;
  while (b.isEjected(nid)) {
    clock.advance(100);
    ms += 100;
    if (ms > 120_000) throw new Error("never un-ejected");
  }
  return ms;
}

describe("outlier ejection", () => {
  for (const outcome of ["no_responders", "timeout"] as const) {
    for (const strategy of ["p2c", "round_robin", "random"]) {
      test(`${strategy}: a node that ends a call with ${outcome} is skipped until its back-off ends`, () => {
        const { clock, b, picks } = setup(strategy);
        b.onCallStart("sfu-a");
        b.onCallEnd("sfu-a", outcome);
        assert.equal(b.isEjected("sfu-a"), true);
        assert.equal(b.inFlight("sfu-a"), 0);
        const during = picks(300);
        assert.equal(during.get("sfu-a"), undefined, "ejected node picked");
        assert.ok((during.get("sfu-b") ?? 0) > 50 && (during.get("sfu-c") ?? 0) > 50);
        clock.advance(999);
        assert.equal(b.isEjected("sfu-a"), true);
        clock.advance(1);
        assert.equal(b.isEjected("sfu-a"), false);
        assert.ok((picks(300).get("sfu-a") ?? 0) > 50, "back in rotation after the back-off");
      });
    }
  }

  test("back-off doubles per consecutive failure up to 30 s, and resets on success", () => {
    const { clock, b } = setup();
    const lengths: number[] = [];
    for (let i = 0; i < 8; i++) {
      b.onCallEnd("sfu-a", i % 2 ? "timeout" : "no_responders");
      lengths.push(ejectionLength(b, clock, "sfu-a"));
    }
    assert.deepEqual(lengths, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    b.onCallEnd("sfu-a", "ok");
    b.onCallEnd("sfu-a", "timeout");
    assert.equal(ejectionLength(b, clock, "sfu-a"), 1000, "an OK answer forgets the history");
    b.onCallEnd("sfu-a", "timeout");
    assert.equal(ejectionLength(b, clock, "sfu-a"), 2000);
    b.onCallEnd("sfu-a", "error");
    b.onCallEnd("sfu-a", "timeout");
    assert.equal(ejectionLength(b, clock, "sfu-a"), 1000, "an error status is an answer too");
  });

  test("a burst of failures from one outage counts once", () => {
    const { clock, b } = setup();
    for (let i = 0; i < 20; i++) b.onCallStart("sfu-a");
    for (let i = 0; i < 20; i++) b.onCallEnd("sfu-a", "timeout");
    assert.equal(b.inFlight("sfu-a"), 0);
    assert.equal(ejectionLength(b, clock, "sfu-a"), 1000);
  });

  test("back-off bounds come from config", () => {
    const clock = fakeClock();
    const b = createBalancer(parseBalancerConfig({ ejection: { base_ms: 200, max_ms: 500 } }), { now: clock.now });
    const lengths: number[] = [];
    for (let i = 0; i < 4; i++) {
      b.onCallEnd("x", "timeout");
      lengths.push(ejectionLength(b, clock, "x"));
    }
    assert.deepEqual(lengths, [200, 400, 500, 500]);
  });

  for (const strategy of ["p2c", "round_robin", "random"]) {
    test(`${strategy}: panic mode — when every node is ejected, all are used anyway`, () => {
      const { b, picks } = setup(strategy);
      for (const n of nodes) b.onCallEnd(n.nid, "no_responders");
      for (const n of nodes) assert.equal(b.isEjected(n.nid), true);
      const t = picks(600);
      assert.deepEqual([...t.keys()].sort(), ["sfu-a", "sfu-b", "sfu-c"]);
      for (const c of t.values()) assert.ok(c > 100);
    });

    test(`${strategy}: ejection and exclude combine; panic never returns an excluded node`, () => {
      const { b, picks } = setup(strategy);
      b.onCallEnd("sfu-b", "timeout");
      assert.deepEqual([...picks(100, ["sfu-a"]).keys()], ["sfu-c"]);
      b.onCallEnd("sfu-c", "timeout");
      const panic = picks(300, ["sfu-a"]);
      assert.deepEqual([...panic.keys()].sort(), ["sfu-b", "sfu-c"]);
      assert.deepEqual([...picks(10, ["sfu-a", "sfu-b", "sfu-c"]).keys()], [undefined]);
    });
  }

  test("a node nobody reported on is never ejected", () => {
    const { b } = setup();
    assert.equal(b.isEjected("sfu-z"), false);
    b.onCallEnd("sfu-a", "ok");
    assert.equal(b.isEjected("sfu-a"), false);
  });
});
