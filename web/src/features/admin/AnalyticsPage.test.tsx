import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeAdminApi, stats } from "./fakeAdminApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeAdminApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));
vi.mock("../../app/session", () => ({ useSession: () => ({ user: { id: "u", role: "admin", display_name: "Ada", permissions: ["users:manage", "moderation:manage", "analytics:read", "audit:read", "system:read"] } }) }));

import AnalyticsPage, { defaultRange } from "./AnalyticsPage";

function renderPage() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <AnalyticsPage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const lastQuery = (path: string) => server.api.calls.filter((c) => c.path === path).at(-1)?.options?.params?.query;

describe("AnalyticsPage", () => {
  beforeEach(() => {
    server.api = new FakeAdminApi();
  });
  afterEach(cleanup);

  it("defaults to the last 30 days, UTC", () => {
    expect(defaultRange(new Date("2026-03-05T23:30:00Z"))).toEqual({ from: "2026-02-04", to: "2026-03-05" });
  });

  it("shows usage by day as a chart and a table with the totals, for the last 30 days", async () => {
    renderPage();
    const rows = await screen.findAllByTestId("usage-row");
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["2026-12-01", "2026-12-02"]);
    expect(screen.getByRole("img", { name: "Tokens by day: 2026-12-01 30, 2026-12-02 30" })).toBeInTheDocument();
    const totals = screen.getByRole("rowheader", { name: "All" }).closest("tr")!;
    expect(within(totals).getAllByRole("cell")[0]).toHaveTextContent("8");
    expect(lastQuery("/api/v1/admin/analytics/usage")).toEqual({ ...defaultRange(), group_by: "day" });
  });

  it("charts cost or requests instead of tokens", async () => {
    server.api.usageItems.day = [stats("2026-12-01", { cost_micros: 1_250_000, requests: 4 })];
    renderPage();
    expect(await screen.findByRole("img", { name: "Tokens by day: 2026-12-01 30" })).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Chart" }), "cost");
    expect(screen.getByRole("img", { name: "Cost by day: 2026-12-01 $1.25" })).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Chart" }), "requests");
    expect(screen.getByRole("img", { name: "Requests by day: 2026-12-01 4" })).toBeInTheDocument();
  });

  it("groups by another key and names the groups by their label", async () => {
    server.api.usageItems.user = [stats("u-1", { label: "ada@example.com", cost_micros: 2_500_000 })];
    renderPage();
    await screen.findAllByTestId("usage-row");
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Group by" }), "user");
    expect(await screen.findByRole("rowheader", { name: "ada@example.com" })).toBeInTheDocument();
    const usage = screen.getByRole("region", { name: "Usage" });
    expect(within(usage).getByRole("columnheader", { name: "User" })).toBeInTheDocument();
    expect(screen.getAllByText("$2.50").length).toBeGreaterThan(0);
    expect(lastQuery("/api/v1/admin/analytics/usage")?.group_by).toBe("user");
  });

  it("asks again for the range picked, and refuses a range that ends before it starts", async () => {
    renderPage();
    await screen.findAllByTestId("usage-row");
    const from = screen.getByLabelText("From");
    const to = screen.getByLabelText("To");
    await userEvent.clear(from);
    await userEvent.type(from, "2026-12-05");
    await userEvent.clear(to);
    await userEvent.type(to, "2026-12-01");
    await userEvent.click(screen.getByRole("button", { name: "Show" }));
    expect(screen.getByRole("alert")).toHaveTextContent("The first day must not be after the last.");
    expect(lastQuery("/api/v1/admin/analytics/usage")?.from).toBe(defaultRange().from);
    await userEvent.clear(from);
    await userEvent.type(from, "2026-11-01");
    await userEvent.click(screen.getByRole("button", { name: "Show" }));
    await waitFor(() => expect(lastQuery("/api/v1/admin/analytics/usage")).toMatchObject({ from: "2026-11-01", to: "2026-12-01" }));
    expect(lastQuery("/api/v1/admin/analytics/users")).toEqual({ from: "2026-11-01", to: "2026-12-01" });
    expect(lastQuery("/api/v1/admin/analytics/content")).toEqual({ from: "2026-11-01", to: "2026-12-01" });
  });

  it("adds up sign-ups and active users across tiers, and counts articles by status", async () => {
    renderPage();
    expect(await screen.findByTestId("signups-total")).toHaveTextContent("7 sign-ups in this range");
    const users = screen.getByRole("region", { name: "Users" });
    const day = within(users).getByRole("rowheader", { name: "2026-12-01" }).closest("tr")!;
    expect(within(day).getAllByRole("cell").map((c) => c.textContent)).toEqual(["3", "4"]);
    expect(screen.getByTestId("articles-by-status")).toHaveTextContent("2 published · 1 draft");
    expect(screen.getByText("python")).toBeInTheDocument();
  });

  it("lists the top spenders by cost, or by requests for the period picked", async () => {
    renderPage();
    await waitFor(() => expect(screen.getAllByTestId("spender")).toHaveLength(2));
    expect(screen.getAllByTestId("spender")[0]).toHaveTextContent("big@example.com");
    expect(screen.getAllByTestId("spender")[0]).toHaveTextContent("$5.00");
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "By" }), "requests");
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Period" }), "week");
    await waitFor(() => expect(screen.getAllByTestId("spender")[0]).toHaveTextContent("small@example.com"));
    expect(lastQuery("/api/v1/admin/analytics/top")).toEqual({ by: "requests", period: "week", limit: 10 });
  });

  it("shows the API's refusal", async () => {
    server.api.failNext["/api/v1/admin/analytics/usage"] = { status: 403, error: { detail: "This needs the analytics:read permission" } };
    renderPage();
    expect(await screen.findByText("This needs the analytics:read permission")).toBeInTheDocument();
  });
});
