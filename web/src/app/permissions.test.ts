import { describe, expect, it } from "vitest";
import type { User } from "../api/client";
import { can, firstAdminPage, permissionsOf } from "./permissions";

const user = (fields: Record<string, unknown>) => ({ id: "u", email: "a@b.c", display_name: "A", tier: "free", is_active: true, created_at: "", ...fields }) as unknown as User;

describe("permissions", () => {
  it("follow the role when the account does not list them", () => {
    expect(can(user({ role: "admin" }), "audit:read")).toBe(true);
    expect(can(user({ role: "moderator" }), "moderation:manage")).toBe(true);
    expect(can(user({ role: "moderator" }), "users:manage")).toBe(false);
    expect(permissionsOf(user({ role: "creator" })).size).toBe(0);
    expect(permissionsOf(null).size).toBe(0);
  });

  it("are the account's own list when /users/me gives one, whatever the role", () => {
    const listed = user({ role: "viewer", permissions: ["audit:read"] });
    expect(can(listed, "audit:read")).toBe(true);
    expect(can(user({ role: "admin", permissions: [] }), "users:manage")).toBe(false);
  });

  it("send the header's Admin link to the first console page one may open, or nowhere", () => {
    expect(firstAdminPage(user({ role: "admin" }))).toBe("/admin/users");
    expect(firstAdminPage(user({ role: "moderator" }))).toBe("/admin/moderation");
    expect(firstAdminPage(user({ role: "viewer" }))).toBeNull();
  });
});
