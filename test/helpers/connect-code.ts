/**
 * Connect's error code strings (`permission_denied`), written from the protocol spec, not from the
 * gateway's table.
 */

import { Code } from "@connectrpc/connect";

/** The Connect error code string for a Code (`permission_denied`). */
export const connectCode = (c: Code) => Code[c]!.replace(/[A-Z]/g, (x, i: number) => (i ? "_" : "") + x.toLowerCase());
