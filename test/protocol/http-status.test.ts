/**
 * Code ⇄ HTTP status (the Connect table) and code names (src/protocol/http-status.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus, codeFromHttpStatus, codeToString } from "../../src/protocol/index.js";

test("code ⇄ HTTP status (Connect table) and code names", () => {
  const table: [Code, number, string][] = [
    [Code.Canceled, 499, "canceled"],
    [Code.Unknown, 500, "unknown"],
    [Code.InvalidArgument, 400, "invalid_argument"],
    [Code.DeadlineExceeded, 504, "deadline_exceeded"],
    [Code.NotFound, 404, "not_found"],
    [Code.AlreadyExists, 409, "already_exists"],
    [Code.PermissionDenied, 403, "permission_denied"],
    [Code.ResourceExhausted, 429, "resource_exhausted"],
    [Code.FailedPrecondition, 400, "failed_precondition"],
    [Code.Aborted, 409, "aborted"],
    [Code.OutOfRange, 400, "out_of_range"],
    [Code.Unimplemented, 501, "unimplemented"],
    [Code.Internal, 500, "internal"],
    [Code.Unavailable, 503, "unavailable"],
    [Code.DataLoss, 500, "data_loss"],
    [Code.Unauthenticated, 401, "unauthenticated"],
  ];
  for (const [code, status, name] of table) {
    assert.equal(codeToHttpStatus(code), status, name);
    assert.equal(codeToString(code), name);
  }
  assert.deepEqual([400, 401, 403, 404, 429, 502, 503, 504, 418].map(codeFromHttpStatus), [
    Code.Internal,
    Code.Unauthenticated,
    Code.PermissionDenied,
    Code.Unimplemented,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unknown,
  ]);
});
