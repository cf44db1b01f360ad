import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Message } from "../../api/client";
import type { LiveReply } from "../../api/stream";
import { Bubble, estimateRowHeight, rowsOf } from "./MessageList";

function message(id: string, role: string, content: string): Message {
  return {
    id,
    conversation_id: "c1",
    role,
    content,
    status: "complete",
    model: "offline/echo",
    provider: "offline",
    finish_reason: "stop",
    usage: { input_tokens: 3, output_tokens: 4, cached_tokens: 0, reasoning_tokens: 0, estimated: false },
    cost_micros: 1200,
    latency_ms: 900,
    ttft_ms: 10,
    error_code: null,
    citations: [],
    created_at: "2026-12-01T00:00:00Z",
  } as Message;
}

function live(fields: Partial<LiveReply>): LiveReply {
  return {
    conversationId: "c1",
    messageId: "a2",
    userMessage: null,
    pendingText: null,
    text: "",
    lastEventId: 0,
    status: "streaming",
    error: null,
    final: null,
    sentAt: 0,
    replacing: null,
    ...fields,
  };
}

describe("rowsOf", () => {
  const stored = [message("u1", "user", "hi"), message("a1", "assistant", "hello")];

  it("adds the pending message and the reply streaming in", () => {
    const rows = rowsOf(stored, live({ pendingText: "next", text: "partial" }));
    expect(rows.map((r) => [r.role, r.content, r.streaming])).toEqual([
      ["user", "hi", false],
      ["assistant", "hello", false],
      ["user", "next", false],
      ["assistant", "partial", true],
    ]);
  });

  it("hides the stored copies of a reply being resumed (no doubled messages)", () => {
    const resumed = [...stored, message("u2", "user", "again"), message("a2", "assistant", "half")];
    const rows = rowsOf(resumed, live({ userMessage: message("u2", "user", "again"), text: "half and more" }));
    expect(rows.map((r) => r.content)).toEqual(["hi", "hello", "again", "half and more"]);
  });

  it("hides the reply a regeneration replaces", () => {
    const rows = rowsOf(stored, live({ messageId: null, replacing: "a1", text: "new" }));
    expect(rows.map((r) => r.content)).toEqual(["hi", "new"]);
  });
});

describe("Bubble", () => {
  it("shows usage and cost under a finished reply, and offers to regenerate it", () => {
    const [, reply] = rowsOf([message("u1", "user", "hi"), message("a1", "assistant", "hello")], undefined);
    render(<Bubble row={reply} onRegenerate={() => {}} />);
    expect(screen.getByText(/3 in \/ 4 out tokens/)).toBeInTheDocument();
    expect(screen.getByText(/\$0\.001200/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Regenerate" })).toBeInTheDocument();
  });

  it("shows the user's text as typed, HTML included", () => {
    const { container } = render(<Bubble row={{ key: "u", role: "user", content: "<b>x</b>\nline", message: null, streaming: false, error: null }} />);
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toContain("<b>x</b>");
  });
});

describe("Bubble: Report", () => {
  const reportButtons = (container: HTMLElement) => within(container).queryAllByRole("button", { name: /^Report/ });

  it("is offered on a finished reply, not on one streaming nor on the person's own message", () => {
    const reply = render(<Bubble row={rowsOf([message("a1", "assistant", "hello")], undefined)[0]} />);
    expect(reportButtons(reply.container).map((b) => b.getAttribute("aria-label"))).toEqual(["Report this reply"]);
    const streaming = render(<Bubble row={rowsOf([], live({ text: "partial" })).at(-1)!} />);
    expect(reportButtons(streaming.container)).toHaveLength(0);
    const own = render(<Bubble row={rowsOf([message("u1", "user", "hi")], undefined)[0]} />);
    expect(reportButtons(own.container)).toHaveLength(0);
  });
});

describe("estimateRowHeight", () => {
  const row = (role: string, content: string, done = true) => rowsOf([message("m", role, content)], undefined).map((r) => ({ ...r, streaming: !done }))[0];

  it("gives a one-line message of the person one line (as measured in Chromium: 51 px)", () => {
    expect(estimateRowHeight(row("user", "Question 7: how does item 7 work?"), 1008)).toBe(51);
  });

  it("grows with the lines a text wraps to, and with the list getting narrower", () => {
    const long = row("assistant", "word ".repeat(200));
    expect(estimateRowHeight(long, 1008)).toBeGreaterThan(estimateRowHeight(row("assistant", "word"), 1008) + 200);
    expect(estimateRowHeight(long, 400)).toBeGreaterThan(estimateRowHeight(long, 1008));
  });

  it("counts the usage line and the actions of a finished reply, not of one streaming", () => {
    expect(estimateRowHeight(row("assistant", "hello"), 1008)).toBeGreaterThan(estimateRowHeight(row("assistant", "hello", false), 1008));
  });
});
