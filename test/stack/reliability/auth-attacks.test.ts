/**
 * Authentication through the running gateway, table-driven, on every protocol: Connect, gRPC-Web
 * binary and text, grpc-websockets (the token in the first frame's `authorization`) and native gRPC
 * over h2c. `[signal.jwt]` as ION writes it (HMAC shared key) plus RS256, ES256 and EdDSA public keys.
 * Valid tokens pass (ION's raw token and `Bearer`); every attack is refused with the right code and
 * without a single NATS message; verified claims replace forged claim metadata at the backend.
 *
 * Tokens are signed here with jose directly, not with the gateway's own minting code.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { SignJWT, exportSPKI, generateKeyPair, exportJWK } from "jose";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { b64, b64url, envelope, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

const SECRET = "ion-signal-shared-secret-0123456789abcdef";
const AUD = "edge-signal";
let stack: Stack;
let probe: Probe;
let spy: NrpcSpy;
let keys: {
  rsa: CryptoKey;
  rsaOther: CryptoKey;
  ec: CryptoKey;
  ed: CryptoKey;
  rsaSpki: string;
};

before(async () => {
  const [rsa, rsaOther, ec, ed] = await Promise.all([
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("ES256", { extractable: true }),
    generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true }),
  ]);
  keys = { rsa: rsa.privateKey, rsaOther: rsaOther.privateKey, ec: ec.privateKey, ed: ed.privateKey, rsaSpki: await exportSPKI(rsa.publicKey) };
  const edJwk = await exportJWK(ed.publicKey);
  stack = await startStack({
    config: {
      signal: {
        grpc: { host: "127.0.0.1", port: 0 },
        jwt: {
          enabled: true,
          key_type: "HMAC",
          key: SECRET,
          audience: AUD,
          keys: [
            { kid: "rsa1", pem: keys.rsaSpki },
            { kid: "ec1", pem: await exportSPKI(ec.publicKey) },
            { kid: "ed1", jwk: { kty: "OKP", crv: "Ed25519", x: edJwk.x! } },
          ],
        },
      },
      edge: { routes: { "probe.v1": "probe", "control.v1": "probe" } },
    },
  });
  probe = await startProbe(stack.nats, { nid: "probe-auth", service: "probe", packages: ["probe.v1", "control.v1"] });
  await stack.waitForNodes(1, "probe");
  spy = await NrpcSpy.start(stack.nats);
});
after(async () => {
  await spy?.close();
  await probe?.close();
  await stack?.stop();
});

const nowS = () => Math.floor(Date.now() / 1000);
const good = (extra: Record<string, unknown> = {}) => ({ uid: "alice", sid: "room-1", services: ["probe", "control", "demo"], aud: AUD, iat: nowS(), exp: nowS() + 600, ...extra });
const enc = new TextEncoder();

function sign(alg: string, key: CryptoKey | Uint8Array, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT", ...header }).sign(key);
}
const hs = (claims: Record<string, unknown>, secret = SECRET) => sign("HS256", enc.encode(secret), claims);

/** The result of one call on one protocol: a gRPC code (0 = OK), the reply, and the HTTP status when there is one. */
type Outcome = { code: Code | 0; message: string; reply?: string; http?: number };
type Caller = (path: string, msg: Uint8Array, authorization: string | undefined, headers?: Record<string, string>) => Promise<Outcome>;

const authHeader = (a: string | undefined): Record<string, string> => (a === undefined ? {} : { authorization: a });

const protocols: Record<string, Caller> = {
  async connect(path, msg, a, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/proto", ...authHeader(a), ...headers }, body: msg as Uint8Array<ArrayBuffer> });
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status === 200) return { code: 0, message: "", reply: echoRes(body).message, http: 200 };
    const j = JSON.parse(new TextDecoder().decode(body)) as { code: string; message: string };
    const code = Code[j.code.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code];
    return { code, message: j.message, http: r.status };
  },
  async "grpc-web"(path, msg, a, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...authHeader(a), ...headers }, body: envelope(msg) });
    const g = grpcWebResult(r.headers, new Uint8Array(await r.arrayBuffer()));
    return { code: g.code, message: g.message, reply: g.data[0] ? echoRes(g.data[0]).message : undefined, http: r.status };
  },
  async "grpc-web-text"(path, msg, a, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1", ...authHeader(a), ...headers }, body: b64(envelope(msg)) });
    const g = grpcWebResult(r.headers, fromGrpcWebText(await r.text()));
    return { code: g.code, message: g.message, reply: g.data[0] ? echoRes(g.data[0]).message : undefined, http: r.status };
  },
  async "grpc-websockets"(path, msg, a, headers = {}) {
    const c = new WsCall(stack.wsUrl + path);
    await c.start({ ...authHeader(a), ...headers }, [msg], true);
    const r = await c.result();
    return { code: r.code, message: r.message, reply: r.data[0] ? echoRes(r.data[0]).message : undefined };
  },
  async grpc(path, msg, a, headers = {}) {
    const session = http2.connect(stack.url);
    try {
      return await new Promise<Outcome>((resolve, reject) => {
        session.on("error", reject);
        const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...authHeader(a), ...headers });
        const chunks: Buffer[] = [];
        let status: { code: Code | 0; message: string } | undefined;
        const read = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] !== undefined) status = { code: Number(h["grpc-status"]) as Code, message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
        };
        req.on("response", read);
        req.on("trailers", read);
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const body = Buffer.concat(chunks);
          const reply = body.length >= 5 ? echoRes(new Uint8Array(body.subarray(5))).message : undefined;
          resolve({ code: status?.code ?? (Code.Unknown as Code), message: status?.message ?? "no grpc-status", reply });
        });
        req.on("error", reject);
        req.end(envelope(msg));
      });
    } finally {
      session.close();
    }
  },
};

let controlSeq = 0;
const CONTROL_PATH = "/control.v1.EchoService/Echo";
const CONTROL = ".control.v1.EchoService.Echo";

test("valid tokens pass on every protocol: HS256 (ION's raw token and Bearer), RS256, ES256, EdDSA; claims reach the backend, forged ones do not", async () => {
  const cases: [string, () => Promise<string>][] = [
    ["HS256, raw (as ION's clients send it)", () => hs(good())],
    ["HS256, Bearer", async () => `Bearer ${await hs(good())}`],
    ["HS256, bearer (any case)", async () => `bearer ${await hs(good())}`],
    ["HS384", async () => sign("HS384", enc.encode(SECRET), good())],
    ["RS256 by kid", async () => `Bearer ${await sign("RS256", keys.rsa, good(), { kid: "rsa1" })}`],
    ["RS256 without kid", async () => `Bearer ${await sign("RS256", keys.rsa, good())}`],
    ["ES256 by kid", async () => `Bearer ${await sign("ES256", keys.ec, good(), { kid: "ec1" })}`],
    ["EdDSA by kid", async () => `Bearer ${await sign("EdDSA", keys.ed, good(), { kid: "ed1" })}`],
    ["no exp (ION accepts it)", () => hs(good({ exp: undefined }))],
  ];
  for (const [name, token] of cases) {
    const authorization = await token();
    for (const [proto, call] of Object.entries(protocols)) {
      const tag = `ok ${name} ${proto}`;
      const o = await call("/probe.v1.EchoService/Echo", echoReq(tag), authorization, { "x-ion-uid": "mallory", "x-ion-sid": "forged-room" });
      assert.equal(o.code, 0, `${tag}: ${o.message}`);
      assert.equal(o.reply, tag);
      const c = await probe.call("Echo", tag);
      assert.deepEqual(c.metadata.get("x-ion-uid"), ["alice"], `${tag}: the verified uid replaces the forged one`);
      assert.deepEqual(c.metadata.get("x-ion-sid"), ["room-1"], tag);
      assert.equal(c.metadata.get("authorization"), undefined, `${tag}: the token is not forwarded`);
    }
  }
  // A token without uid: the forged header is dropped, not passed on.
  const noUid = await hs(good({ uid: undefined, sid: undefined }));
  for (const [proto, call] of Object.entries(protocols)) {
    const tag = `no uid ${proto}`;
    assert.equal((await call("/probe.v1.EchoService/Echo", echoReq(tag), noUid, { "x-ion-uid": "mallory" })).code, 0, tag);
    const c = await probe.call("Echo", tag);
    assert.equal(c.metadata.get("x-ion-uid"), undefined, tag);
  }
});

test("attacks are refused with the right code on every protocol, and nothing is published on NATS", async () => {
  const [h, p] = (await hs(good())).split(".") as [string, string, string];
  const valid = await hs(good());
  const [vh, vp, vs] = valid.split(".") as [string, string, string];
  const unauth = Code.Unauthenticated;
  const cases: [string, () => Promise<string | undefined>, Code][] = [
    ["missing token", async () => undefined, unauth],
    ["empty Bearer", async () => "Bearer ", unauth],
    ["another scheme", async () => `Basic ${b64url("a:b")}`, unauth],
    ["malformed: two parts", async () => `${h}.${p}`, unauth],
    ["malformed: garbage", async () => "not-a-jwt", unauth],
    ["malformed: bad base64 header", async () => `%%%.${p}.abc`, unauth],
    ["expired", () => hs(good({ exp: nowS() - 3600, iat: nowS() - 7200 })), unauth],
    ["not yet valid", () => hs(good({ nbf: nowS() + 3600 })), unauth],
    ["issued in the future", () => hs(good({ iat: nowS() + 3600 })), unauth],
    ["wrong HMAC key", () => hs(good(), "another-secret-another-secret-0123"), unauth],
    ["RS256 from another key under kid rsa1", () => sign("RS256", keys.rsaOther, good(), { kid: "rsa1" }), unauth],
    ["RS256 from another key without kid", () => sign("RS256", keys.rsaOther, good()), unauth],
    ["wrong alg: HS256 keyed with the RSA public key (alg confusion)", () => sign("HS256", enc.encode(keys.rsaSpki), good(), { kid: "rsa1" }), unauth],
    ["wrong alg: ES256 token under the RSA kid", () => sign("ES256", keys.ec, good(), { kid: "rsa1" }), unauth],
    ["unknown kid", () => sign("RS256", keys.rsa, good(), { kid: "nope" }), unauth],
    ["alg none", async () => `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${vp}.`, unauth],
    ["alg none with a signature", async () => `${b64url(JSON.stringify({ alg: "none" }))}.${vp}.${vs}`, unauth],
    ["tampered payload (services widened)", async () => `${vh}.${b64url(JSON.stringify({ ...good(), services: ["*", "demo", "probe", "room"] }))}.${vs}`, unauth],
    ["tampered payload (uid changed)", async () => `${vh}.${b64url(JSON.stringify({ ...JSON.parse(Buffer.from(vp, "base64url").toString()), uid: "admin" }))}.${vs}`, unauth],
    ["wrong audience", () => hs(good({ aud: "someone-else" })), unauth],
    ["no audience", () => hs(good({ aud: undefined })), unauth],
    ["two authorization values", async () => `${valid}, ${valid}`, unauth],
    ["token for another service", () => hs(good({ services: ["room"] })), Code.PermissionDenied],
    ["services claim is a prefix trick", () => hs(good({ services: ["prob", "probe.v"] })), Code.PermissionDenied],
    ["no services claim", () => hs(good({ services: undefined })), Code.PermissionDenied],
  ];
  const control = async () => {
    const o = await protocols["grpc-web"]!(CONTROL_PATH, echoReq(`control-${++controlSeq}`), await hs(good()));
    assert.equal(o.code, 0, o.message);
  };
  const mark = await spy.settle(control, CONTROL);
  const before = probe.calls.length;
  for (const [name, token, code] of cases) {
    const authorization = await token();
    for (const [proto, call] of Object.entries(protocols)) {
      const o = await call("/probe.v1.EchoService/Echo", echoReq(`attack ${name}`), authorization);
      assert.equal(o.code, code, `${name} over ${proto}: got ${o.code} ${o.message}`);
      assert.equal(o.reply, undefined, `${name} over ${proto}: no reply`);
      assert.ok(!o.message.includes(SECRET) && (authorization === undefined || authorization.length < 20 || !o.message.includes(authorization)), "the message leaks nothing");
      if (proto === "connect") assert.equal(o.http, code === Code.PermissionDenied ? 403 : 401, name);
    }
  }
  // The token in the query string is ignored unless allow_query_token is set.
  const q = new WsCall(`${stack.wsUrl}/probe.v1.EchoService/Echo?token=${valid}`);
  await q.start({}, [echoReq("attack query token")], true);
  assert.equal((await q.result()).code, Code.Unauthenticated);

  assert.deepEqual(await spy.between(mark, control, CONTROL), [], "no NATS message for any rejected call");
  assert.equal(probe.calls.length, before + 1, "only the control call reached the backend");
  assert.ok(stack.gw.gateway.auth.stats.rejected >= cases.length * Object.keys(protocols).length);
});

test("the status API needs a token too", async () => {
  const r = await fetch(stack.url + "/api/nodes");
  assert.equal(r.status, 401);
  const denied = await fetch(stack.url + "/api/nodes", { headers: { authorization: `Bearer ${await hs(good())}` } });
  assert.equal(denied.status, 403, "a token without the edge service");
  const ok = await fetch(stack.url + "/api/nodes", { headers: { authorization: `Bearer ${await hs(good({ services: ["edge"] }))}` } });
  assert.equal(ok.status, 200);
  const j = (await ok.json()) as { services: Record<string, unknown[]> };
  assert.equal(j.services["demo"]?.length, 2);
});
