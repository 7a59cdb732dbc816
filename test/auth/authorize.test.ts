/**
 * Authorization of a call (src/auth/authorize.ts): ION's services rule, per-method rules, public methods.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { servicesAllow } from "../../src/auth/index.js";
import { rejection, request, sign, hs, make } from "./fixtures.js";

describe("services claim", () => {
  const table: Array<[services: string[], service: string, allowed: boolean]> = [
    [["rtc"], "rtc.RTC", true],
    [["room"], "room.RoomSignal", true],
    [["room"], "room.RoomService", true],
    [["rtc"], "room.RoomSignal", false],
    [["rt"], "rtc.RTC", false], // substring of the package is not enough
    [["tc"], "rtc.RTC", false],
    [["RTC"], "rtc.RTC", false],
    [["rtc.RTC"], "rtc.RTC", true], // full service name (edge-signal extension)
    [["room.RoomSignal"], "room.RoomService", false],
    [["ion"], "ion.rtc.RTC", true], // parent package covers sub-packages
    [["rtc"], "ion.rtc.RTC", false], // ION too: "/rtc." does not occur in "/ion.rtc.RTC/Signal"
    [[""], "rtc.RTC", false],
    [[], "rtc.RTC", false],
  ];
  for (const [services, service, allowed] of table) {
    it(`${JSON.stringify(services)} ${allowed ? "allows" : "denies"} ${service}`, () => {
      assert.equal(servicesAllow(services, service), allowed);
    });
  }

  it("gives ION's answer for every well-formed path when no entry is a full service name", () => {
    const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,4}$/);
    const parts = fc.array(ident, { minLength: 1, maxLength: 3 });
    const svcName = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,4}$/);
    // Entries: prefixes of the real package (often granted), near-misses and noise.
    const input = fc.tuple(parts, svcName, fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,6}$/)).chain(([p, name, method]) => {
      const prefix = fc.integer({ min: 1, max: p.length }).map((n) => p.slice(0, n).join("."));
      const entry = fc.oneof(
        prefix,
        prefix.map((x) => x.slice(0, -1)),
        prefix.map((x) => x + "x"),
        prefix.map((x) => "a." + x),
        ident,
        fc.string({ maxLength: 6 }),
      );
      return fc.tuple(fc.constant(`${p.join(".")}.${name}`), fc.constant(method), fc.array(entry, { maxLength: 3 }));
    });
    const seen = { allowed: 0, denied: 0 };
    fc.assert(
      fc.property(input, ([service, method, services]) => {
        fc.pre(!services.includes(service));
        const path = `/${service}/${method}`;
        const ion = services.some((s) => path.includes(`/${s}.`));
        assert.equal(servicesAllow(services, service), ion, `${JSON.stringify(services)} ${path}`);
        seen[ion ? "allowed" : "denied"]++;
      }),
      { numRuns: 5000 },
    );
    assert.ok(seen.allowed > 1000 && seen.denied > 1000, `both outcomes exercised: ${JSON.stringify(seen)}`);
  });

  it("denies through the authenticator with PERMISSION_DENIED, allows the granted service", async () => {
    const auth = make();
    const token = await hs({ uid: "u", services: ["room"] });
    assert.equal((await auth.authenticate(request("/room.RoomSignal/Signal", token))).claims?.uid, "u");
    const err = await rejection(auth, request("/rtc.RTC/Signal", token));
    assert.equal(err.code, Code.PermissionDenied);
    assert.equal(err.rawMessage, "service not allowed by token");
  });

  it("require_services_claim = false lets a token without services call anything, but still enforces a present claim", async () => {
    const auth = make({ require_services_claim: false });
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", await hs({ uid: "u" })))).claims);
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", await hs({ uid: "u", services: null })))).claims);
    const err = await rejection(auth, request("/rtc.RTC/Signal", await hs({ uid: "u", services: ["room"] })));
    assert.equal(err.code, Code.PermissionDenied);
  });
});

describe("per-method rules", () => {
  const auth = make({
    rules: [
      { method: "/room.RoomService/*", require: { role: "admin" } },
      { method: "/room.RoomService/EndRoom", require: { level: [3, 4] } },
      { method: "/grpc.health.v1.Health/*", public: true },
    ],
  });

  it("requires the claim on matching methods only", async () => {
    const user = await hs({ services: ["room"], role: "user" });
    assert.ok((await auth.authenticate(request("/room.RoomSignal/Signal", user))).claims);
    const err = await rejection(auth, request("/room.RoomService/GetRooms", user));
    assert.equal(err.code, Code.PermissionDenied);
    assert.equal(err.rawMessage, "method requires claim role");

    const admin = await hs({ services: ["room"], role: "admin" });
    assert.ok((await auth.authenticate(request("/room.RoomService/GetRooms", admin))).claims);
    const roles = await hs({ services: ["room"], role: ["viewer", "admin"] });
    assert.ok((await auth.authenticate(request("/room.RoomService/GetRooms", roles))).claims);
  });

  it("applies every matching rule", async () => {
    const admin = await hs({ services: ["room"], role: "admin", level: 1 });
    assert.equal((await rejection(auth, request("/room.RoomService/EndRoom", admin))).rawMessage, "method requires claim level");
    const senior = await hs({ services: ["room"], role: "admin", level: 4 });
    assert.ok((await auth.authenticate(request("/room.RoomService/EndRoom", senior))).claims);
  });

  it("still checks services on rule-matched methods", async () => {
    const admin = await hs({ services: ["rtc"], role: "admin" });
    assert.equal((await rejection(auth, request("/room.RoomService/GetRooms", admin))).code, Code.PermissionDenied);
  });

  it("public methods need no token, but a token that is sent must be valid", async () => {
    const r = await auth.authenticate(request("/grpc.health.v1.Health/Check"));
    assert.equal(r.claims, undefined);
    assert.equal(r.forward.size, 0);
    const good = await auth.authenticate(request("/grpc.health.v1.Health/Check", await hs({ uid: "u" })));
    assert.equal(good.claims?.uid, "u");
    assert.equal(good.forward.get("x-ion-uid")?.[0], "u");
    const err = await rejection(auth, request("/grpc.health.v1.Health/Check", await sign("HS256", "wrong", { uid: "u" })));
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal((await rejection(auth, request("/rtc.RTC/Signal"))).rawMessage, "missing token");
  });

  it("refuses a path that does not match service and method", async () => {
    const token = await hs({ services: ["rtc"] });
    const req = { ...request("/rtc.RTC/Signal", token), path: "/room.RoomService/EndRoom" };
    assert.equal((await rejection(auth, req)).code, Code.InvalidArgument);
  });
});
