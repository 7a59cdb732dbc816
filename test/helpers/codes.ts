/**
 * Status codes in tests (Node test process): Connect's error code strings (`permission_denied`),
 * written from the protocol spec, not from the gateway's table; and the predicate `assert.throws` /
 * `assert.rejects` take for "a ConnectError with this code".
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** The Connect error code string for a Code (`permission_denied`). */
export const connectCode = (c: Code) => Code[c]!.replace(/[A-Z]/g, (x, i: number) => (i ? "_" : "") + x.toLowerCase());

/** True for a ConnectError with `code` (for `assert.throws(f, isCode(Code.X))`). */
export const isCode = (code: Code) => (e: unknown) => e instanceof ConnectError && e.code === code;
