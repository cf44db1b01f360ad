import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeNotificationsApi } from "./fakeApi.test-helper";

const server = vi.hoisted(() => ({ api: null as unknown as FakeNotificationsApi }));
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: new Proxy({}, { get: (_, method: string) => (server.api as unknown as Record<string, unknown>)[method] }),
}));

import { NotificationPreferences } from "./Preferences";

function renderPreferences() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <NotificationPreferences />
    </QueryClientProvider>,
  );
}

describe("NotificationPreferences", () => {
  beforeEach(() => {
    server.api = new FakeNotificationsApi();
  });
  afterEach(cleanup);

  it("shows each category's channels as the API has them, security e-mail on and locked", async () => {
    renderPreferences();
    const securityMail = await screen.findByRole("checkbox", { name: /^Security .*: By e-mail \(always on\)$/ });
    expect(securityMail).toBeChecked();
    expect(securityMail).toBeDisabled();
    expect(screen.getByRole("checkbox", { name: /^Security .*: In the app$/ })).toBeEnabled();
    expect(screen.getByRole("checkbox", { name: /^Content .*: By e-mail$/ })).not.toBeChecked();
    expect(screen.getByRole("checkbox", { name: "Budget: By e-mail" })).toBeChecked();
    expect(screen.getAllByRole("checkbox")).toHaveLength(10);
  });

  it("saves one toggle with only what changed", async () => {
    renderPreferences();
    const contentMail = await screen.findByRole("checkbox", { name: /^Content .*: By e-mail$/ });
    await userEvent.click(contentMail);
    await waitFor(() => expect(contentMail).toBeChecked());
    const put = server.api.calls.find((c) => c.method === "PUT");
    expect(put?.options?.body).toEqual({ categories: { content: { email: true } } });
    expect(server.api.preferences.content.email).toBe(true);
    expect(await screen.findByRole("status")).toHaveTextContent("Preferences saved");

    const announcementsInApp = screen.getByRole("checkbox", { name: "Announcements: In the app" });
    await waitFor(() => expect(announcementsInApp).toBeEnabled());
    await userEvent.click(announcementsInApp);
    await waitFor(() => expect(announcementsInApp).not.toBeChecked());
    expect(server.api.preferences.announcements).toEqual({ in_app: false, email: true });
  });

  it("says so when the API refuses a change", async () => {
    server.api.PUT = async () => ({ error: { detail: "Preferences are read-only today" }, response: new Response(null, { status: 422 }) });
    renderPreferences();
    await userEvent.click(await screen.findByRole("checkbox", { name: "System: In the app" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Preferences are read-only today");
    expect(screen.getByRole("checkbox", { name: "System: In the app" })).toBeChecked();
  });
});
