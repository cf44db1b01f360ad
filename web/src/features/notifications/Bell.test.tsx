import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeNotificationsApi } from "./fakeApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeNotificationsApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));

import { Bell } from "./Bell";

describe("Bell", () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it("shows the unread count and follows the notifications stream when no chat socket is open", async () => {
    server.api = new FakeNotificationsApi();
    server.api.add(1);
    const encoder = new TextEncoder();
    let push!: (text: string) => void;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = (text) => c.enqueue(encoder.encode(text))) });
    const fetchStub = vi.fn(async () => new Response(body, { status: 200 }));
    vi.stubGlobal("fetch", fetchStub);

    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter>
          <Bell />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const bell = await screen.findByRole("link", { name: "Notifications, 1 unread" });
    expect(bell).toHaveAttribute("href", "/notifications");
    expect(bell).toHaveTextContent("1");
    await waitFor(() => expect(fetchStub).toHaveBeenCalled());

    const [fresh] = server.api.add(1, { title: "Budget at 80%" });
    push(`id: ${fresh.id}\nevent: notification\ndata: ${JSON.stringify(fresh)}\n\n`);
    await screen.findByRole("link", { name: "Notifications, 2 unread" });

    server.api.items.forEach((n) => (n.read_at = "2026-12-01T00:00:00Z"));
    const [third] = server.api.add(1);
    third.read_at = "2026-12-01T00:00:00Z";
    push(`id: ${third.id}\nevent: notification\ndata: ${JSON.stringify(third)}\n\n`);
    const none = await screen.findByRole("link", { name: "Notifications, none unread" });
    expect(none.querySelector(".bell-count")).toBeNull();
  });
});
