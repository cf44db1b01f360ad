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
vi.mock("../../app/session", () => ({ useSession: () => ({ user: { id: "u", role: "moderator", display_name: "Mo", permissions: ["moderation:manage", "analytics:read"] } }) }));

import ModerationPage, { PAGE_SIZE } from "./ModerationPage";

function renderPage() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <ModerationPage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const excerpts = () => screen.queryAllByTestId("moderation-item").map((li) => li.querySelector("blockquote")?.textContent);
const item = (excerpt: string) => screen.getByText(excerpt).closest("li")!;
const resolveCalls = () => server.api.calls.filter((c) => c.method === "POST");

describe("ModerationPage", () => {
  beforeEach(() => {
    server.api = new FakeAdminApi();
  });
  afterEach(cleanup);

  it("lists open items newest first with their excerpt and reasons, a page at a time", async () => {
    server.api.addModeration(PAGE_SIZE + 3);
    server.api.moderation[0].reasons = ["instruction_override", "user_report"];
    server.api.moderation[0].report_count = 2;
    renderPage();
    await waitFor(() => expect(excerpts()).toHaveLength(PAGE_SIZE));
    expect(excerpts()[0]).toBe(`Flagged text ${PAGE_SIZE + 3}`);
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(excerpts()).toHaveLength(PAGE_SIZE + 3));
    expect(excerpts().at(-1)).toBe("Flagged text 1");
    expect(within(item("Flagged text 1")).getByText("Why: instruction override, reported by members (2 reports)")).toBeInTheDocument();
    const pages = server.api.calls.filter((c) => c.path === "/api/v1/admin/moderation");
    expect(pages.at(-1)?.options?.params?.query).toMatchObject({ status: "open", before: server.api.moderation[3].id, limit: PAGE_SIZE });
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("dismisses an item with a note; it leaves the open tab and shows under resolved", async () => {
    server.api.addModeration(2);
    renderPage();
    await waitFor(() => expect(excerpts()).toHaveLength(2));
    const first = item("Flagged text 1");
    await userEvent.type(within(first).getByLabelText("Note (optional)"), "not abusive");
    await userEvent.click(within(first).getByRole("button", { name: "Dismiss model reply" }));
    await waitFor(() => expect(excerpts()).toEqual(["Flagged text 2"]));
    expect(resolveCalls()[0].options).toEqual({ params: { path: { item_id: server.api.moderation[0].id } }, body: { action: "dismiss", note: "not abusive" } });
    await userEvent.click(screen.getByRole("tab", { name: "Resolved" }));
    await waitFor(() => expect(excerpts()).toEqual(["Flagged text 1"]));
    expect(screen.getByTestId("resolution")).toHaveTextContent("Dismissed");
    expect(screen.getByTestId("resolution")).toHaveTextContent("“not abusive”");
    expect(screen.queryByRole("button", { name: /Dismiss/ })).not.toBeInTheDocument();
  });

  it("hides and deletes only after confirming, without a note sent as null", async () => {
    server.api.addModeration(1, { kind: "article", excerpt: "Bad article" });
    renderPage();
    await userEvent.click(await screen.findByRole("button", { name: "Delete article" }));
    const dialog = screen.getByRole("dialog", { name: "Delete this article?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(resolveCalls()).toHaveLength(0);
    await userEvent.click(screen.getByRole("button", { name: "Hide article" }));
    await userEvent.click(within(screen.getByRole("dialog", { name: "Hide this article?" })).getByRole("button", { name: "Hide" }));
    await waitFor(() => expect(resolveCalls()).toHaveLength(1));
    expect(resolveCalls()[0].options?.body).toEqual({ action: "hide", note: null });
    expect(await screen.findByText("Nothing to review.")).toBeInTheDocument();
  });

  it("offers only dismiss for items with no stored content", async () => {
    server.api.addModeration(1, { kind: "tool_input", excerpt: "Tool input" });
    renderPage();
    const li = await waitFor(() => item("Tool input"));
    expect(within(li).getByRole("button", { name: /Dismiss/ })).toBeInTheDocument();
    expect(within(li).queryByRole("button", { name: /Hide|Delete/ })).not.toBeInTheDocument();
  });

  it("filters by kind", async () => {
    server.api.addModeration(1, { kind: "article", excerpt: "An article" });
    server.api.addModeration(1, { kind: "message", excerpt: "A message" });
    renderPage();
    await waitFor(() => expect(excerpts()).toHaveLength(2));
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Kind" }), "article");
    await waitFor(() => expect(excerpts()).toEqual(["An article"]));
    expect(server.api.calls.at(-1)?.options?.params?.query).toMatchObject({ kind: "article" });
  });

  it("shows why a resolve was refused", async () => {
    server.api.addModeration(1);
    server.api.failNext["/api/v1/admin/moderation/{item_id}/resolve"] = { status: 409, error: { detail: "This item was resolved already" } };
    renderPage();
    await userEvent.click(await screen.findByRole("button", { name: "Dismiss model reply" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This item was resolved already");
  });

  it("shows an excerpt as text, never as HTML", async () => {
    server.api.addModeration(1, { excerpt: "<img src=x onerror=alert(1)>" });
    const { container } = renderPage();
    expect(await screen.findByText("<img src=x onerror=alert(1)>")).toBeInTheDocument();
    expect(container.querySelector("img")).toBeNull();
  });
});
