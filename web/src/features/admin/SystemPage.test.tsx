import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeAdminApi, systemStatus } from "./fakeAdminApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeAdminApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));
vi.mock("../../app/session", () => ({ useSession: () => ({ user: { id: "u", role: "admin", display_name: "Ada", permissions: ["users:manage", "moderation:manage", "analytics:read", "audit:read", "system:read"] } }) }));

import SystemPage, { duration, REFRESH_MS } from "./SystemPage";

function renderPage() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <SystemPage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const systemCalls = () => server.api.calls.filter((c) => c.path === "/api/v1/admin/system").length;

describe("SystemPage", () => {
  beforeEach(() => {
    server.api = new FakeAdminApi();
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it("writes durations for people", () => {
    expect(duration(42.7)).toBe("42 s");
    expect(duration(125)).toBe("2 min 5 s");
    expect(duration(3 * 3600 + 5 * 60)).toBe("3 h 5 min");
    expect(duration(2 * 86_400 + 3 * 3600)).toBe("2 d 3 h");
  });

  it("shows instances, dependencies, jobs, breakers and the error rate", async () => {
    renderPage();
    const rows = await screen.findAllByTestId("instance");
    expect(rows[0]).toHaveTextContent("web-1:101 (answering)");
    expect(within(rows[0]).getAllByRole("cell").map((c) => c.textContent)).toEqual(["api", "3 h 5 min", "4", "1", "150 / 3", "1.2.3"]);
    expect(rows[1]).toHaveTextContent("42 s");
    expect(screen.getByTestId("dependency-database")).toHaveTextContent("up · 1.3 ms");
    expect(screen.getByTestId("dependency-redis")).toHaveTextContent("down");
    expect(screen.getByTestId("dependency-redis")).toHaveTextContent("connection refused");
    expect(screen.getByText("Queue default").nextElementSibling).toHaveTextContent("7 waiting");
    expect(screen.getByText("Failed jobs").nextElementSibling).toHaveTextContent("2");
    expect(screen.getByText("Outbox backlog").nextElementSibling).toHaveTextContent("5 (oldest 1 min 30 s)");
    expect(screen.getByTestId("breaker-llm:openai")).toHaveTextContent("open");
    expect(screen.getByTestId("breaker-redis")).toHaveTextContent("closed");
    expect(screen.getByText("Error rate (recent)").nextElementSibling).toHaveTextContent("2.0 % of 200");
    expect(screen.getByText("Open WebSockets").nextElementSibling).toHaveTextContent("4");
  });

  it("says when only this instance is seen and failed jobs are not tracked", async () => {
    server.api.system = systemStatus({ instances_shared: false, jobs: { queue_depth: { default: null }, failed_jobs: null, outbox_backlog: 0, outbox_oldest_age_seconds: 0 } });
    renderPage();
    expect(await screen.findByText(/Only this instance is seen/)).toBeInTheDocument();
    expect(screen.getByText("Failed jobs").nextElementSibling).toHaveTextContent("not tracked");
    expect(screen.getByText("Queue default").nextElementSibling).toHaveTextContent("unreadable");
  });

  it("refreshes every few seconds", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    renderPage();
    await screen.findAllByTestId("instance");
    expect(systemCalls()).toBe(1);
    server.api.system = systemStatus({ open_websockets: 9 });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(REFRESH_MS);
    });
    expect(systemCalls()).toBe(2);
    expect(await screen.findByText("9")).toBeInTheDocument();
  });

  it("keeps the last answer and says so when a refresh fails", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    renderPage();
    await screen.findAllByTestId("instance");
    server.api.failNext["/api/v1/admin/system"] = { status: 503, error: { detail: "The database is not answering" } };
    await act(async () => {
      await vi.advanceTimersByTimeAsync(REFRESH_MS);
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("The database is not answering (showing the last answer)");
    expect(screen.getAllByTestId("instance")).toHaveLength(2);
  });
});
