import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

type Result = { data?: unknown; error?: unknown; response: Response };
interface Call {
  method: string;
  path: string;
  init?: { body?: unknown; headers?: Record<string, string>; bodySerializer?: (b: unknown) => unknown };
}

const state = vi.hoisted(() => ({
  calls: [] as Call[],
  user: null as Record<string, unknown> | null,
  answer: null as ((call: Call) => Result) | null,
  reloads: 0,
}));
vi.mock("../../api/client", async (original) => {
  const handle = (method: string) => async (path: string, init?: Call["init"]) => {
    const call = { method, path, init };
    state.calls.push(call);
    if (path === "/api/v1/api-keys" && method === "GET") return { data: { items: [] }, response: new Response(null, { status: 200 }) };
    return state.answer?.(call) ?? { data: {}, response: new Response(null, { status: method === "DELETE" ? 204 : 200 }) };
  };
  return {
    ...(await original<typeof import("../../api/client")>()),
    api: { GET: handle("GET"), POST: handle("POST"), PUT: handle("PUT"), PATCH: handle("PATCH"), DELETE: handle("DELETE") },
  };
});
vi.mock("../../app/session", () => ({
  useSession: () => ({
    user: state.user,
    reloadUser: async () => {
      state.reloads += 1;
    },
  }),
}));
vi.mock("../notifications/Preferences", () => ({ NotificationPreferences: () => null }));

import SettingsPage from "./SettingsPage";

function renderSettings() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <SettingsPage />
    </QueryClientProvider>,
  );
}

const png = () => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], "me.png", { type: "image/png" });
const profile = () => screen.getByRole("region", { name: "Profile" });

describe("Settings: profile and avatar", () => {
  beforeEach(() => {
    state.calls = [];
    state.answer = null;
    state.reloads = 0;
    state.user = { id: "u1", email: "ada@example.com", display_name: "Ada Lovelace", role: "creator", tier: "free", bio: "Counts things.", avatar_url: null };
    URL.createObjectURL = vi.fn(() => "blob:preview-1");
    URL.revokeObjectURL = vi.fn();
  });
  afterEach(cleanup);

  it("saves the bio with the display name", async () => {
    renderSettings();
    const bio = within(profile()).getByRole("textbox", { name: "Bio" });
    expect(bio).toHaveValue("Counts things.");
    await userEvent.clear(bio);
    await userEvent.type(bio, "Writes programs{enter}for engines.");
    await userEvent.click(within(profile()).getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Profile saved")).toBeInTheDocument();
    const patch = state.calls.find((c) => c.method === "PATCH");
    expect(patch?.path).toBe("/api/v1/users/me");
    expect(patch?.init?.body).toEqual({ display_name: "Ada Lovelace", bio: "Writes programs\nfor engines." });
  });

  it("shows the initials without an avatar, previews the picked file and uploads its bytes", async () => {
    renderSettings();
    expect(screen.getByRole("img", { name: "No avatar yet" })).toHaveTextContent("AL");
    expect(screen.getByRole("button", { name: "Upload avatar" })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Remove avatar" })).not.toBeInTheDocument();
    const file = png();
    await userEvent.upload(screen.getByLabelText(/Avatar picture/), file);
    expect(screen.getByRole("img", { name: "Preview of the new avatar" })).toHaveAttribute("src", "blob:preview-1");
    await userEvent.click(screen.getByRole("button", { name: "Upload avatar" }));
    expect(await screen.findByText("Avatar saved")).toBeInTheDocument();
    const put = state.calls.find((c) => c.method === "PUT");
    expect(put?.path).toBe("/api/v1/users/me/avatar");
    expect(put?.init?.body).toBe(file);
    expect(put?.init?.bodySerializer?.(file)).toBe(file); // sent as it is, not as JSON
    expect(put?.init?.headers).toEqual({ "Content-Type": "application/octet-stream" });
    expect(state.reloads).toBe(1);
    expect(URL.revokeObjectURL).toHaveBeenCalledWith("blob:preview-1");
  });

  it("shows why the API refused a picture: 422 with its detail, 413 even without one", async () => {
    state.answer = ({ method }) =>
      method === "PUT" ? { error: { detail: "an avatar must be a PNG, JPEG or WebP picture" }, response: new Response(null, { status: 422 }) } : { data: {}, response: new Response(null, { status: 200 }) };
    renderSettings();
    await userEvent.upload(screen.getByLabelText(/Avatar picture/), png());
    await userEvent.click(screen.getByRole("button", { name: "Upload avatar" }));
    expect(await within(profile()).findByRole("alert")).toHaveTextContent("an avatar must be a PNG, JPEG or WebP picture");
    state.answer = ({ method }) => (method === "PUT" ? { error: undefined, response: new Response(null, { status: 413 }) } : { data: {}, response: new Response(null, { status: 200 }) });
    await userEvent.click(screen.getByRole("button", { name: "Upload avatar" }));
    await waitFor(() => expect(within(profile()).getByRole("alert")).toHaveTextContent("The picture is too large: at most 2 MiB."));
    expect(state.reloads).toBe(0);
  });

  it("shows the avatar there is and removes it after confirming", async () => {
    state.user = { ...state.user, avatar_url: "/api/v1/users/u1/avatar?size=256&v=abc" };
    renderSettings();
    expect(screen.getByRole("img", { name: "Your avatar" })).toHaveAttribute("src", "/api/v1/users/u1/avatar?size=256&v=abc");
    await userEvent.click(screen.getByRole("button", { name: "Remove avatar" }));
    await userEvent.click(within(screen.getByRole("dialog", { name: "Remove your avatar?" })).getByRole("button", { name: "Remove" }));
    expect(await screen.findByText("Avatar removed")).toBeInTheDocument();
    expect(state.calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/v1/users/me/avatar"]);
    expect(state.reloads).toBe(1);
  });
});
