// What the signed-in user may see in the console. The API checks every call itself (403 otherwise);
// this only decides which links and pages to offer, from the `permissions` that /users/me lists
// (what the account's role allows, docs/API.md): never from the role's name.
import type { User } from "../api/client";

export type Permission = "users:manage" | "moderation:manage" | "analytics:read" | "audit:read" | "system:read";

export function permissionsOf(user: User | null | undefined): ReadonlySet<string> {
  return new Set(user?.permissions ?? []);
}

export function can(user: User | null | undefined, permission: Permission): boolean {
  return permissionsOf(user).has(permission);
}

/** The console's pages, each with the permission that opens it (the API asks for the same one). */
export const ADMIN_PAGES: ReadonlyArray<{ to: string; label: string; permission: Permission }> = [
  { to: "/admin/users", label: "Users", permission: "users:manage" },
  { to: "/admin/analytics", label: "Analytics", permission: "analytics:read" },
  { to: "/admin/moderation", label: "Moderation", permission: "moderation:manage" },
  { to: "/admin/audit", label: "Audit log", permission: "audit:read" },
  { to: "/admin/system", label: "System", permission: "system:read" },
];

/** The first console page this user may open, or null: where the header's "Admin" link goes. */
export function firstAdminPage(user: User | null | undefined): string | null {
  return ADMIN_PAGES.find((page) => can(user, page.permission))?.to ?? null;
}
