import { describe, expect, it } from "vitest";
import type { User } from "../api/client";
import { can, firstAdminPage, permissionsOf } from "./permissions";

const user = (fields: Record<string, unknown>) =>
  ({ id: "u", email: "a@b.c", display_name: "A", tier: "free", is_active: true, created_at: "", permissions: [], ...fields }) as unknown as User;

const ADMIN = ["users:manage", "moderation:manage", "analytics:read", "audit:read", "system:read", "chat:use"];
const MODERATOR = ["moderation:manage", "analytics:read", "chat:use"];

describe("permissions", () => {
  it("are the account's own list from /users/me, whatever the role is called", () => {
    expect(can(user({ role: "admin", permissions: ADMIN }), "audit:read")).toBe(true);
    expect(can(user({ role: "moderator", permissions: MODERATOR }), "moderation:manage")).toBe(true);
    expect(can(user({ role: "moderator", permissions: MODERATOR }), "users:manage")).toBe(false);
    expect(can(user({ role: "viewer", permissions: ["audit:read"] }), "audit:read")).toBe(true);
    expect(can(user({ role: "admin", permissions: [] }), "users:manage")).toBe(false);
    expect(permissionsOf(null).size).toBe(0);
  });

  it("send the header's Admin link to the first console page one may open, or nowhere", () => {
    expect(firstAdminPage(user({ role: "admin", permissions: ADMIN }))).toBe("/admin/users");
    expect(firstAdminPage(user({ role: "moderator", permissions: MODERATOR }))).toBe("/admin/analytics");
    expect(firstAdminPage(user({ role: "viewer", permissions: ["chat:use"] }))).toBeNull();
  });
});
