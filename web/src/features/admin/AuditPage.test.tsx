import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeAdminApi } from "./fakeAdminApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeAdminApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));
vi.mock("../../app/session", () => ({ useSession: () => ({ user: { id: "u", role: "admin", display_name: "Ada", permissions: ["users:manage", "moderation:manage", "analytics:read", "audit:read", "system:read"] } }) }));

import AuditPage, { PAGE_SIZE } from "./AuditPage";

function renderPage() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <AuditPage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const events = () => screen.queryAllByTestId("audit-event");
const lastQuery = () => server.api.calls.filter((c) => c.path === "/api/v1/admin/audit").at(-1)?.options?.params?.query;

describe("AuditPage", () => {
  beforeEach(() => {
    server.api = new FakeAdminApi();
  });
  afterEach(cleanup);

  it("lists events newest first and loads more with the before cursor", async () => {
    server.api.addAudit(PAGE_SIZE + 2);
    renderPage();
    await waitFor(() => expect(events()).toHaveLength(PAGE_SIZE));
    expect(events()[0]).toHaveTextContent(server.api.audit[PAGE_SIZE + 1].target_id!);
    expect(events()[0]).toHaveTextContent(`n: ${PAGE_SIZE + 2}`);
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(events()).toHaveLength(PAGE_SIZE + 2));
    // Empty filters are no filters: they are not sent.
    expect(lastQuery()).toEqual({ before: server.api.audit[2].id, limit: PAGE_SIZE });
    expect(events().at(-1)).toHaveTextContent("n: 1");
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("shows who, from where, and what changed", async () => {
    server.api.addAudit(1, { actor_id: null, actor_ip: null, action: "user.role_changed", data: { from: "creator", to: "moderator", via: "system" } });
    renderPage();
    await waitFor(() => expect(events()).toHaveLength(1));
    expect(events()[0]).toHaveTextContent("user.role_changed");
    expect(events()[0]).toHaveTextContent("by the system");
    expect(events()[0]).toHaveTextContent("from: creator · to: moderator · via: system");
  });

  it("filters by actor, action and target, trimmed", async () => {
    server.api.addAudit(2);
    server.api.addAudit(1, { action: "api_key.created", target_type: "api_key" });
    renderPage();
    await waitFor(() => expect(events()).toHaveLength(3));
    await userEvent.type(screen.getByLabelText("Action"), " api_key.created ");
    await userEvent.click(screen.getByRole("button", { name: "Filter" }));
    await waitFor(() => expect(events()).toHaveLength(1));
    expect(lastQuery()).toMatchObject({ action: "api_key.created" });
    await userEvent.clear(screen.getByLabelText("Action"));
    await userEvent.type(screen.getByLabelText("Target (id)"), "nothing-like-this");
    await userEvent.click(screen.getByRole("button", { name: "Filter" }));
    expect(await screen.findByText("No events match.")).toBeInTheDocument();
    expect(lastQuery()).toEqual({ target: "nothing-like-this", limit: PAGE_SIZE });
  });

  it("narrows to an event's actor or target from the event, and clears", async () => {
    server.api.addAudit(2);
    server.api.addAudit(1, { actor_id: "00000000-0000-7000-8000-00000000abcd" });
    renderPage();
    await waitFor(() => expect(events()).toHaveLength(3));
    await userEvent.click(within(events()[0]).getByRole("button", { name: "Only this actor" }));
    await waitFor(() => expect(events()).toHaveLength(1));
    expect(screen.getByLabelText("Actor (user id)")).toHaveValue("00000000-0000-7000-8000-00000000abcd");
    expect(lastQuery()).toMatchObject({ actor: "00000000-0000-7000-8000-00000000abcd" });
    await userEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(events()).toHaveLength(3));
    await userEvent.click(within(events()[2]).getByRole("button", { name: "Only this target" }));
    await waitFor(() => expect(events()).toHaveLength(1));
    expect(lastQuery()).toMatchObject({ target: server.api.audit[0].target_id });
    expect(screen.getByLabelText("Target (id)")).toHaveValue(server.api.audit[0].target_id);
  });

  it("shows the API's refusal", async () => {
    server.api.failNext["/api/v1/admin/audit"] = { status: 422, error: { detail: "unknown audit action 'x'" } };
    renderPage();
    expect(await screen.findByRole("alert")).toHaveTextContent("unknown audit action 'x'");
  });
});
