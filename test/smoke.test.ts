import { expect, test } from "bun:test";
import { QklzlError, isQklzlError } from "../src/shared/errors.ts";

test("QklzlError serialises to the stable JSON error shape", () => {
  const error = new QklzlError("not_leader", "node 2 is not the leader", { leader_id: 1 });
  expect(isQklzlError(error)).toBe(true);
  expect(error.httpStatus).toBe(307);
  expect(JSON.parse(JSON.stringify(error))).toEqual({ error: "not_leader", message: "node 2 is not the leader", leader_id: 1 });
});
