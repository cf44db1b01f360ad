import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const state = vi.hoisted(() => ({ queries: [] as Array<Record<string, unknown>> }));
const article = (id: string, author_id: string, visibility: string, title: string) => ({
  id,
  author_id,
  title,
  body: "",
  tags: [],
  status: "published",
  visibility,
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
});
vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: {
    GET: async (_path: string, init: { params: { query: Record<string, unknown> } }) => {
      state.queries.push(init.params.query);
      const mine = [article("a1", "me", "public", "My public one"), article("a2", "me", "private", "My notes")];
      const items = init.params.query.author === "me" ? mine : [...mine, article("a3", "other", "public", "Their guide")];
      return { data: { items, total: items.length, limit: 50, offset: 0 }, response: new Response(null, { status: 200 }) };
    },
  },
}));
vi.mock("../../app/session", () => ({ useSession: () => ({ user: { id: "me", role: "creator", display_name: "Me" } }) }));

import KnowledgePage from "./KnowledgePage";

function renderPage() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <KnowledgePage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("KnowledgePage: everyone's public articles", () => {
  beforeEach(() => {
    state.queries = [];
  });
  afterEach(cleanup);

  it("lists yours by default and everyone's readable ones on demand, with Report on others' public articles only", async () => {
    renderPage();
    expect(await screen.findByText("My public one")).toBeInTheDocument();
    expect(state.queries.at(-1)?.author).toBe("me");
    expect(screen.queryByRole("button", { name: /^Report/ })).not.toBeInTheDocument();
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Whose" }), "everyone");
    expect(await screen.findByText("Their guide")).toBeInTheDocument();
    expect(state.queries.at(-1)?.author).toBeUndefined();
    await waitFor(() =>
      expect(screen.getAllByRole("button", { name: /^Report/ }).map((b) => b.getAttribute("aria-label"))).toEqual(["Report the article “Their guide”"]),
    );
  });
});
