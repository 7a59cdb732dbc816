/**
 * The demo echo schema for tests (Node test process): EchoRequest/EchoResponse bytes, and
 * demo.v1.EchoService renamed into other packages (same wire format) for probe backends and descriptor
 * sets.
 */
import assert from "node:assert/strict";
import { clone, create, createFileRegistry, fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { EchoRequestSchema, EchoResponseSchema, file_demo_v1_echo, type EchoService } from "../../src/gen/demo/v1/echo_pb.js";

/** The demo echo file, moved to package `pkg` (`probe.v1` → `probe.v1.EchoService`). */
export function renamedEchoFile(pkg: string): FileDescriptorProto {
  const fp = clone(FileDescriptorProtoSchema, file_demo_v1_echo.proto);
  fp.name = `${pkg.replace(/\./g, "/")}/echo.proto`;
  fp.package = pkg;
  for (const s of fp.service) {
    for (const m of s.method) {
      m.inputType = m.inputType.replace(".demo.v1.", `.${pkg}.`);
      m.outputType = m.outputType.replace(".demo.v1.", `.${pkg}.`);
    }
  }
  return fp;
}

/** A binary FileDescriptorSet of the given files (what `buf build -o x.binpb` writes). */
export function descriptorSet(...files: FileDescriptorProto[]): Uint8Array {
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files }));
}

/**
 * `<pkg>.EchoService` as a service descriptor that connect-es clients and `registerService` accept in
 * place of the generated `EchoService` (same methods, same messages on the wire).
 */
export function echoServiceIn(pkg: string): typeof EchoService {
  const reg = createFileRegistry(create(FileDescriptorSetSchema, { file: [renamedEchoFile(pkg)] }));
  const s = reg.getService(`${pkg}.EchoService`);
  assert.ok(s);
  return s as DescService as typeof EchoService;
}

/** Serialized `EchoRequest`. */
export const echoReq = (message: string, repeat = 0): Uint8Array<ArrayBuffer> => new Uint8Array(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat })));
/** Parsed `EchoResponse`. */
export const echoRes = (b: Uint8Array) => fromBinary(EchoResponseSchema, b);
