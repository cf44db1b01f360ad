// The console's routes open for the permissions they need, and its links show only those pages.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeAdminApi } from "../features/admin/fakeAdminApi.test-helper";

const PERMISSIONS: Record<string, string[]> = vi.hoisted(() => ({
  admin: ["users:manage", "moderation:manage", "analytics:read", "audit:read", "system:read"],
  moderator: ["moderation:manage", "analytics:read"],
}));
const state = vi.hoisted(() => ({ api: null as unknown as FakeAdminApi, role: "admin" }));
vi.mock("../api/client", async (original) => ({
  ...(await original<typeof import("../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (state.api as unknown as Record<string, unknown>)[method] }),
}));
vi.mock("./session", () => ({
  useSession: () => ({ status: "signed-in", user: { id: "u", email: "m@example.com", role: state.role, display_name: "Mo Derator", permissions: PERMISSIONS[state.role] ?? [] }, signOut: async () => {} }),
}));
vi.mock("../features/notifications/Bell", () => ({ Bell: () => null }));

import { AppRoutes } from "./App";

function renderAt(path: string) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("admin routes", () => {
  beforeEach(() => {
    state.api = new FakeAdminApi();
  });
  afterEach(cleanup);

  it("lets a moderator work the queue, but not read the audit log", async () => {
    state.role = "moderator";
    renderAt("/admin/moderation");
    expect(await screen.findByRole("heading", { name: "Moderation queue" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Admin" })).toHaveAttribute("href", "/admin/analytics");
    cleanup();
    renderAt("/admin/audit");
    expect(await screen.findByText("This page is for staff with the audit:read permission.")).toBeInTheDocument();
    expect(state.api.calls.filter((c) => c.path === "/api/v1/admin/audit")).toHaveLength(0);
  });

  it("gives an admin every console page in the admin navigation", async () => {
    state.role = "admin";
    renderAt("/admin/system");
    expect(await screen.findByRole("heading", { name: "System status" })).toBeInTheDocument();
    const nav = screen.getByRole("navigation", { name: "Admin" });
    expect(within(nav).getAllByRole("link").map((a) => a.textContent)).toEqual(["Users", "Analytics", "Moderation", "Audit log", "System"]);
    expect(within(nav).getByRole("link", { name: "System" })).toHaveAttribute("aria-current", "page");
    // The header's Admin link goes to the first page (users) and stays marked on every console page.
    const admin = within(screen.getByRole("navigation", { name: "Main" })).getByRole("link", { name: "Admin" });
    expect(admin).toHaveAttribute("href", "/admin/users");
    expect(admin).toHaveClass("active");
  });

  it("offers a member no console at all", async () => {
    state.role = "creator";
    renderAt("/admin/moderation");
    expect(await screen.findByText("This page is for staff with the moderation:manage permission.")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Admin" })).not.toBeInTheDocument();
  });
});
