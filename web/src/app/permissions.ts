// What the signed-in user may see in the console. The API checks every call itself (403 otherwise);
// this only decides which links and pages to offer. The answer comes from the account's `permissions`
// when /users/me lists them, else from its role, as the API's role table says (docs/API.md).
import type { User } from "../api/client";

export type Permission =
  | "users:manage"
  | "usage:read_all"
  | "moderation:manage"
  | "analytics:read"
  | "audit:read";

const ROLE_PERMISSIONS: Record<string, readonly Permission[]> = {
  admin: ["users:manage", "usage:read_all", "moderation:manage", "analytics:read", "audit:read"],
  moderator: ["moderation:manage", "analytics:read"],
};

export function permissionsOf(user: User | null | undefined): ReadonlySet<string> {
  if (!user) return new Set();
  const listed = (user as { permissions?: unknown }).permissions;
  if (Array.isArray(listed)) return new Set(listed.filter((p): p is string => typeof p === "string"));
  return new Set(ROLE_PERMISSIONS[user.role] ?? []);
}

export function can(user: User | null | undefined, permission: Permission): boolean {
  return permissionsOf(user).has(permission);
}

/** The console's pages, each with the permission that opens it (the API asks for the same one). */
export const ADMIN_PAGES: ReadonlyArray<{ to: string; label: string; permission: Permission }> = [
  { to: "/admin/users", label: "Users", permission: "users:manage" },
  { to: "/admin/analytics", label: "Analytics", permission: "usage:read_all" },
  { to: "/admin/moderation", label: "Moderation", permission: "moderation:manage" },
  { to: "/admin/audit", label: "Audit log", permission: "audit:read" },
  { to: "/admin/system", label: "System", permission: "usage:read_all" },
];

/** The first console page this user may open, or null: where the header's "Admin" link goes. */
export function firstAdminPage(user: User | null | undefined): string | null {
  return ADMIN_PAGES.find((page) => can(user, page.permission))?.to ?? null;
}
