import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeNotificationsApi } from "./fakeApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeNotificationsApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));

import InboxPage from "./InboxPage";

function renderInbox() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <InboxPage />
    </QueryClientProvider>,
  );
}

const titles = () => screen.getAllByTestId("notification").map((li) => within(li).getByRole("heading").textContent);

describe("InboxPage", () => {
  beforeEach(() => {
    server.api = new FakeNotificationsApi();
  });
  afterEach(cleanup);

  it("lists newest first and loads the next page with the cursor", async () => {
    server.api.add(25);
    renderInbox();
    await waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(20));
    expect(titles()[0]).toBe("Notice 25 (unread)");
    expect(titles()[19]).toBe("Notice 6 (unread)");
    expect(screen.getByTestId("unread-summary")).toHaveTextContent("25 unread");
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(25));
    expect(titles()[24]).toBe("Notice 1 (unread)");
    const second = server.api.calls.filter((c) => c.path === "/api/v1/notifications" && c.options?.params?.query?.before);
    expect(second.at(-1)?.options?.params?.query?.before).toBe(server.api.items[5].id); // the last one shown: Notice 6;
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("marks one read, then all read", async () => {
    server.api.add(3);
    renderInbox();
    await userEvent.click(await screen.findByRole("button", { name: "Mark read: Notice 2" }));
    await waitFor(() => expect(screen.getByTestId("unread-summary")).toHaveTextContent("2 unread"));
    expect(screen.queryByRole("button", { name: "Mark read: Notice 2" })).not.toBeInTheDocument();
    expect(server.api.items[1].read_at).not.toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Mark all read" }));
    await waitFor(() => expect(screen.getByTestId("unread-summary")).toHaveTextContent("All read"));
    expect(screen.queryAllByRole("button", { name: /^Mark read/ })).toHaveLength(0);
    expect(screen.getByRole("button", { name: "Mark all read" })).toBeDisabled();
  });

  it("deletes a notification", async () => {
    server.api.add(2);
    renderInbox();
    await userEvent.click(await screen.findByRole("button", { name: "Delete: Notice 1" }));
    await waitFor(() => expect(titles()).toEqual(["Notice 2 (unread)"]));
    expect(server.api.items.map((n) => n.title)).toEqual(["Notice 2"]);
  });

  it("shows only unread ones when asked, and an empty inbox says so", async () => {
    server.api.add(2);
    server.api.items[0].read_at = "2026-12-01T00:00:00Z";
    renderInbox();
    await waitFor(() => expect(titles()).toHaveLength(2));
    await userEvent.click(screen.getByRole("checkbox", { name: "Unread only" }));
    await waitFor(() => expect(titles()).toEqual(["Notice 2 (unread)"]));
    server.api.items = [];
    await userEvent.click(screen.getByRole("checkbox", { name: "Unread only" }));
    expect(await screen.findByText("No notifications yet.")).toBeInTheDocument();
  });

  it("renders a notification's text as text, never as HTML", async () => {
    server.api.add(1, { title: "<img src=x onerror=alert(1)>", body: "<script>boom()</script>" });
    const { container } = renderInbox();
    expect(await screen.findByText("<script>boom()</script>")).toBeInTheDocument();
    expect(container.querySelector("img, script")).toBeNull();
  });
});
