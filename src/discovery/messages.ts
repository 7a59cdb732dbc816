/**
 * The nats-discovery v0.3.0 message types (Go package `discovery`), their gob descriptions, typed
 * decode/encode, and the mapping between a discovery `Node` and the gateway's {@link NodeInfo}.
 * Field names are Go's, because gob matches fields by name.
 */
import { decodeGob, type GobDecodeOptions } from "./gob/decode.js";
import { encodeGob, GobTypeIds } from "./gob/encode.js";
import { GobError } from "./gob/reader.js";
import { gobMap, gobSlice, gobStruct, type GobStruct, type GobValue } from "./gob/types.js";
import type { NodeInfo } from "../core/node-info.js";

/** Go `discovery.Action`. */
export type DiscoveryAction = "save" | "update" | "delete" | "get";

/** Go `discovery.RPC`. */
export interface DiscoveryRPC {
  Protocol: string;
  Addr: string;
  /** nil map → null. */
  Params: Record<string, string> | null;
}

/** Go `discovery.Node`. */
export interface DiscoveryNode {
  DC: string;
  Service: string;
  NID: string;
  RPC: DiscoveryRPC;
  /** `map[string]interface{}` of basic values; nil → null. */
  ExtraInfo: Record<string, unknown> | null;
}

/** Go `discovery.Request`: save/update/delete carry a Node; get carries Service and Params. */
export interface DiscoveryRequest {
  /** Usually a {@link DiscoveryAction}; anything else is what the peer sent. */
  Action: string;
  Node: DiscoveryNode;
  Service: string;
  Params: Record<string, unknown> | null;
}

/** Go `discovery.Response` (reply to save/update/delete). */
export interface DiscoveryResponse {
  Success: boolean;
  Reason: string;
}

/** Go `discovery.GetResponse` (reply to get). */
export interface GetResponse {
  Nodes: DiscoveryNode[] | null;
}

const mapStringString = gobMap("map[string]string", "string", "string");
const mapStringInterface = gobMap("map[string]interface {}", "string", "interface");

/** gob description of `discovery.RPC`. */
export const rpcGobType = gobStruct("RPC", [
  { name: "Protocol", type: "string" },
  { name: "Addr", type: "string" },
  { name: "Params", type: mapStringString },
]);

/** gob description of `discovery.Node`. */
export const nodeGobType = gobStruct("Node", [
  { name: "DC", type: "string" },
  { name: "Service", type: "string" },
  { name: "NID", type: "string" },
  { name: "RPC", type: rpcGobType },
  { name: "ExtraInfo", type: mapStringInterface },
]);

/** gob description of `discovery.Request`. */
export const requestGobType = gobStruct("Request", [
  { name: "Action", type: "string" },
  { name: "Node", type: nodeGobType },
  { name: "Service", type: "string" },
  { name: "Params", type: mapStringInterface },
]);

/** gob description of `discovery.Response`. */
export const responseGobType = gobStruct("Response", [
  { name: "Success", type: "bool" },
  { name: "Reason", type: "string" },
]);

/** gob description of `discovery.GetResponse`. */
export const getResponseGobType = gobStruct("GetResponse", [{ name: "Nodes", type: gobSlice("[]discovery.Node", nodeGobType) }]);

/**
 * The type ids this process sends, as a Go process that first encodes a Request, then a Response, then
 * a GetResponse: Request 65, Node 66, RPC 67, map[string]string 68, map[string]interface {} 69,
 * Response 70, GetResponse 71, []discovery.Node 72. Receivers match by name, so any ids would do;
 * fixed ones keep our bytes deterministic.
 */
export const discoveryGobIds = new GobTypeIds();
discoveryGobIds.register(requestGobType);
discoveryGobIds.register(responseGobType);
discoveryGobIds.register(getResponseGobType);

// ---- decoding: generic gob value → typed, by field name, with Go's type checks ----

function asStruct(v: GobValue | undefined, what: string): GobStruct | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Map || v instanceof Uint8Array || Object.getPrototypeOf(v) !== null) {
    throw new GobError(`discovery: ${what} is not a struct`);
  }
  return v as GobStruct;
}

function str(s: GobStruct | undefined, field: string): string {
  const v = s?.[field];
  if (v === undefined) return "";
  if (typeof v !== "string") throw new GobError(`discovery: field ${field} is not a string`);
  return v;
}

function bool(s: GobStruct | undefined, field: string): boolean {
  const v = s?.[field];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new GobError(`discovery: field ${field} is not a bool`);
  return v;
}

function mapField(s: GobStruct | undefined, field: string): ReadonlyMap<GobValue, GobValue> | null {
  const v = s?.[field];
  if (v === undefined) return null;
  if (!(v instanceof Map)) throw new GobError(`discovery: field ${field} is not a map`);
  return v;
}

/** A record with own data properties only (safe for keys like `__proto__`). */
function toRecord<T>(m: ReadonlyMap<GobValue, GobValue>, field: string, check: (v: GobValue) => v is GobValue & T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of m) {
    if (typeof k !== "string") throw new GobError(`discovery: ${field} has a non-string key`);
    if (!check(v)) throw new GobError(`discovery: ${field}[${JSON.stringify(k)}] has the wrong type`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const isString = (v: GobValue): v is string => typeof v === "string";
const isAny = (_v: GobValue): _v is GobValue => true;

function rpcFrom(s: GobStruct | undefined): DiscoveryRPC {
  const params = mapField(s, "Params");
  return { Protocol: str(s, "Protocol"), Addr: str(s, "Addr"), Params: params ? toRecord(params, "RPC.Params", isString) : null };
}

function nodeFrom(s: GobStruct | undefined): DiscoveryNode {
  const extra = mapField(s, "ExtraInfo");
  return {
    DC: str(s, "DC"),
    Service: str(s, "Service"),
    NID: str(s, "NID"),
    RPC: rpcFrom(asStruct(s?.["RPC"], "Node.RPC")),
    ExtraInfo: extra ? toRecord(extra, "Node.ExtraInfo", isAny) : null,
  };
}

function root(payload: Uint8Array, opts: GobDecodeOptions | undefined, what: string): GobStruct {
  const s = asStruct(decodeGob(payload, opts).value, what);
  if (!s) throw new GobError(`discovery: ${what} missing`);
  return s;
}

/** Decodes a gob `discovery.Request`. Throws {@link GobError} when malformed or of another shape. */
export function decodeRequest(payload: Uint8Array, opts?: GobDecodeOptions): DiscoveryRequest {
  const s = root(payload, opts, "Request");
  const params = mapField(s, "Params");
  return {
    Action: str(s, "Action"),
    Node: nodeFrom(asStruct(s["Node"], "Request.Node")),
    Service: str(s, "Service"),
    Params: params ? toRecord(params, "Request.Params", isAny) : null,
  };
}

/** Decodes a gob `discovery.Response`. */
export function decodeResponse(payload: Uint8Array, opts?: GobDecodeOptions): DiscoveryResponse {
  const s = root(payload, opts, "Response");
  return { Success: bool(s, "Success"), Reason: str(s, "Reason") };
}

/** Decodes a gob `discovery.GetResponse`. */
export function decodeGetResponse(payload: Uint8Array, opts?: GobDecodeOptions): GetResponse {
  const s = root(payload, opts, "GetResponse");
  const v = s["Nodes"];
  if (v === undefined) return { Nodes: null };
  if (!Array.isArray(v)) throw new GobError("discovery: GetResponse.Nodes is not a slice");
  return { Nodes: v.map((n, i) => nodeFrom(asStruct(n as GobValue, `GetResponse.Nodes[${i}]`))) };
}

/** Encodes a `discovery.Request` exactly as a fresh Go encoder would. */
export function encodeRequest(req: Partial<DiscoveryRequest>): Uint8Array {
  return encodeGob(requestGobType, req, discoveryGobIds);
}

/** Encodes a `discovery.Response`. */
export function encodeResponse(res: Partial<DiscoveryResponse>): Uint8Array {
  return encodeGob(responseGobType, res, discoveryGobIds);
}

/** Encodes a `discovery.GetResponse`. */
export function encodeGetResponse(res: Partial<GetResponse>): Uint8Array {
  return encodeGob(getResponseGobType, res, discoveryGobIds);
}

// ---- NodeInfo mapping ----

/** `Node.ID()` in Go: `DC + "." + NID`, the registry's key and the tail of the node's subjects. */
export function nodeKey(node: Pick<DiscoveryNode, "DC" | "NID">): string {
  return `${node.DC}.${node.NID}`;
}

/** A discovery Node as the gateway's NodeInfo. */
export function nodeToInfo(node: DiscoveryNode, lastSeen = Date.now()): NodeInfo {
  return {
    nid: node.NID,
    service: node.Service,
    dc: node.DC,
    rpc: { protocol: node.RPC.Protocol, addr: node.RPC.Addr, params: node.RPC.Params ?? {} },
    extraInfo: node.ExtraInfo ?? {},
    source: "discovery",
    lastSeen,
  };
}

/** A NodeInfo as a discovery Node (empty maps become nil, as ION sends them). */
export function infoToNode(info: Pick<NodeInfo, "nid" | "service" | "dc" | "rpc" | "extraInfo">): DiscoveryNode {
  const params = info.rpc.params;
  const extra = info.extraInfo;
  return {
    DC: info.dc,
    Service: info.service,
    NID: info.nid,
    RPC: { Protocol: info.rpc.protocol, Addr: info.rpc.addr, Params: params && Object.keys(params).length > 0 ? { ...params } : null },
    ExtraInfo: extra && Object.keys(extra).length > 0 ? { ...extra } : null,
  };
}
