// parseBalancerConfig: defaults, aliases, camelCase/snake_case, sticky key sources, and errors that
// name the bad path.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_BALANCER_CONFIG, DEFAULT_MESSAGE_KEY, DEFAULT_STICKY_KEY, parseBalancerConfig, parseStickyKey, usesStickyPlacement } from "../../src/balancer/index.js";

describe("parseBalancerConfig", () => {
  test("nothing configured gives the defaults", () => {
    for (const raw of [undefined, null, {}]) {
      const c = parseBalancerConfig(raw);
      assert.equal(c.default, "p2c");
      assert.equal(c.pinHeader, "x-edge-node");
      assert.equal(c.services.size, 0);
      assert.deepEqual(c.ejection, { baseMs: 1000, maxMs: 30000 });
      assert.equal(c.placement.bucket, "edge_signal_placement");
      assert.equal(c.loadWeight, 1);
    }
    assert.deepEqual(DEFAULT_STICKY_KEY, [
      { from: "claim", name: "sid" },
      { from: "metadata", name: "sid" },
      { from: "metadata", name: "x-ion-sid" },
    ]);
  });

  test("strategies, aliases and per-service settings", () => {
    const c = parseBalancerConfig({
      default: "Round-Robin",
      services: {
        rtc: { strategy: "sticky", key: ["claim:room", "header:X-Room"] },
        room: "sticky",
        islb: { strategy: "least_request" },
        __proto__x: "random",
        "constructor": "rr",
      },
    });
    assert.equal(c.default, "round_robin");
    assert.deepEqual(c.services.get("rtc"), {
      strategy: "sticky",
      key: [{ from: "claim", name: "room" }, { from: "metadata", name: "x-room" }],
      messageKey: DEFAULT_MESSAGE_KEY,
    });
    assert.deepEqual(c.services.get("room"), { strategy: "sticky", key: DEFAULT_STICKY_KEY, messageKey: DEFAULT_MESSAGE_KEY });
    assert.equal(c.services.get("islb")?.strategy, "p2c");
    assert.equal(c.services.get("__proto__x")?.strategy, "random");
    assert.equal(c.services.get("constructor")?.strategy, "round_robin");
    const proto = parseBalancerConfig(JSON.parse('{"services":{"__proto__":"sticky"}}'));
    assert.equal(proto.services.get("__proto__")?.strategy, "sticky");
    assert.equal(({} as Record<string, unknown>).strategy, undefined, "no prototype pollution");
  });

  test("snake_case and camelCase keys both work", () => {
    const a = parseBalancerConfig({ pin_header: "X-Pin", load_weight: 0.5, ejection: { base_ms: 10, max_ms: 20 }, placement: { bucket: "b1", cache_ttl_ms: 5, ttl_ms: 0 } });
    const b = parseBalancerConfig({ pinHeader: "X-Pin", loadWeight: 0.5, ejection: { baseMs: 10, maxMs: 20 }, placement: { bucket: "b1", cacheTtlMs: 5, ttlMs: 0 } });
    assert.deepEqual(a, b);
    assert.equal(a.pinHeader, "x-pin");
    assert.equal(a.placement.cacheTtlMs, 5);
    assert.equal(a.placement.timeoutMs, DEFAULT_BALANCER_CONFIG.placement.timeoutMs);
  });

  test("placement replicas and JetStream domain (a hub cluster seen from a leaf node)", () => {
    assert.equal(DEFAULT_BALANCER_CONFIG.placement.replicas, 1);
    assert.equal(DEFAULT_BALANCER_CONFIG.placement.domain, "");
    const c = parseBalancerConfig({ placement: { replicas: 3, domain: "hub" } });
    assert.equal(c.placement.replicas, 3);
    assert.equal(c.placement.domain, "hub");
    assert.equal(c.placement.bucket, DEFAULT_BALANCER_CONFIG.placement.bucket);
  });

  test("usesStickyPlacement tells whether a placement store is needed", () => {
    assert.equal(usesStickyPlacement(parseBalancerConfig({})), false);
    assert.equal(usesStickyPlacement(parseBalancerConfig({ services: { room: "p2c" } })), false);
    assert.equal(usesStickyPlacement(parseBalancerConfig({ services: { room: "p2c", rtc: "sticky" } })), true);
    // services is a Map: Object.values() on it sees nothing (the mistake this helper avoids)
    assert.deepEqual(Object.values(parseBalancerConfig({ services: { rtc: "sticky" } }).services), []);
  });

  test("bare sticky key names mean claim, then metadata", () => {
    assert.deepEqual(parseStickyKey("Room"), [
      { from: "claim", name: "Room" },
      { from: "metadata", name: "room" },
    ]);
  });

  test("bad input is rejected with its path", () => {
    const bad: [unknown, RegExp][] = [
      ["p2c", /balancer: expected a table/],
      [{ default: "sticky" }, /sticky cannot be the default/],
      [{ default: "fastest" }, /balancer.default: unknown strategy/],
      [{ defualt: "p2c" }, /unknown key "defualt"/],
      [{ services: { rtc: { strategy: "nope" } } }, /balancer.services.rtc.strategy: unknown strategy/],
      [{ services: { rtc: {} } }, /balancer.services.rtc.strategy: required/],
      [{ services: { rtc: { strategy: "p2c", key: "sid" } } }, /only sticky services take a key/],
      [{ services: { rtc: { strategy: "sticky", key: "cookie:x" } } }, /unknown source "cookie"/],
      [{ services: { rtc: { strategy: "sticky", key: [] } } }, /key: empty/],
      [{ services: { rtc: { strategy: "sticky", key: "claim:" } } }, /missing name/],
      [{ services: { rtc: 5 } }, /balancer.services.rtc: expected a table/],
      [{ pin_header: "bad header" }, /not a valid header name/],
      [{ load_weight: -1 }, /load_weight: expected a number >= 0/],
      [{ ejection: { base_ms: 100, max_ms: 10 } }, /max_ms must be >= base_ms/],
      [{ ejection: { base_ms: "1s" } }, /base_ms: expected a number/],
      [{ placement: { bucket: "a.b" } }, /placement.bucket: must match/],
      [{ placement: { buckett: "x" } }, /balancer.placement: unknown key "buckett"/],
      [{ placement: { replicas: 2 } }, /placement.replicas: must be 1, 3 or 5/],
      [{ placement: { domain: "a.b" } }, /placement.domain: must match/],
    ];
    for (const [raw, re] of bad) assert.throws(() => parseBalancerConfig(raw), re, JSON.stringify(raw));
  });
});
