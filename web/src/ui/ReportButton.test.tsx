import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const state = vi.hoisted(() => ({
  posts: [] as Array<{ path: string; body: unknown }>,
  answer: { status: 201, error: undefined as unknown },
}));
vi.mock("../api/client", async (original) => ({
  ...(await original<typeof import("../api/client")>()),
  api: {
    POST: async (path: string, init: { body: unknown }) => {
      state.posts.push({ path, body: init.body });
      return { data: {}, error: state.answer.error, response: new Response(null, { status: state.answer.status }) };
    },
  },
}));

import { ReportButton } from "./ReportButton";

describe("ReportButton", () => {
  beforeEach(() => {
    state.posts = [];
    state.answer = { status: 201, error: undefined };
  });
  afterEach(cleanup);

  it("sends the kind, the id and the reason, and thanks", async () => {
    render(<ReportButton kind="message" id="m-1" what="this reply" />);
    await userEvent.click(screen.getByRole("button", { name: "Report this reply" }));
    const dialog = screen.getByRole("dialog", { name: "Report this reply" });
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Reason" }), "  It insults people  ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Send report" }));
    expect(await within(dialog).findByRole("status")).toHaveTextContent("Thank you: a moderator will look at it.");
    expect(state.posts).toEqual([{ path: "/api/v1/reports", body: { kind: "message", id: "m-1", reason: "It insults people" } }]);
  });

  it("says why a report was refused, and sends nothing without a reason", async () => {
    state.answer = { status: 409, error: { detail: "You reported this already" } };
    render(<ReportButton kind="article" id="a-1" what="the article “Tea”" />);
    await userEvent.click(screen.getByRole("button", { name: "Report the article “Tea”" }));
    const dialog = screen.getByRole("dialog");
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Reason" }), "   ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Send report" }));
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Say what is wrong with it.");
    expect(state.posts).toHaveLength(0);
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Reason" }), "spam");
    await userEvent.click(within(dialog).getByRole("button", { name: "Send report" }));
    expect(await within(dialog).findByText("You reported this already")).toBeInTheDocument();
    expect(state.posts[0].body).toEqual({ kind: "article", id: "a-1", reason: "spam" });
  });
});
