import { describe, expect, it, vi } from "vitest";
import type { Notification } from "../../api/client";
import { setAccessToken } from "../../api/client";
import { ChatStream } from "../../api/stream";
import { NotificationFeed } from "./feed";

class FakeSocket {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  send() {}
  close() {
    this.onclose?.();
  }
  receive(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

function notification(n: number): Notification {
  return {
    id: `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`,
    category: "security",
    type: "api_key_created",
    title: `N${n}`,
    body: "",
    data: {},
    read_at: null,
    created_at: "2026-12-01T00:00:00Z",
  };
}

/** A notifications SSE stream the test writes to; `end()` closes it as the server would. */
function sseStream() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    send: (n: Notification) =>
      controller.enqueue(encoder.encode(`id: ${n.id}\nevent: notification\ndata: ${JSON.stringify(n)}\n\n`)),
    comment: () => controller.enqueue(encoder.encode(": heartbeat\n\n")),
    lost: () => controller.enqueue(encoder.encode("event: events_lost\ndata: {}\n\n")),
    end: () => controller.close(),
  };
}

describe("NotificationFeed", () => {
  it("takes notification frames from the chat socket while it is open, and opens no stream", () => {
    const socket = new FakeSocket();
    const stream = new ChatStream("ws://test", () => socket as unknown as WebSocket);
    stream.connect();
    socket.onopen?.();
    socket.receive({ type: "ready" });
    const got: string[] = [];
    const fetchImpl = vi.fn();
    const feed = new NotificationFeed(stream, (n) => got.push(n.title), fetchImpl);
    feed.start();
    expect(feed.transport).toBe("websocket");
    socket.receive({ type: "notification", notification: notification(1) });
    socket.receive({ type: "notification", notification: notification(1) }); // the same one twice: told once
    socket.receive({ type: "notification", notification: notification(2) });
    expect(got).toEqual(["N1", "N2"]);
    expect(fetchImpl).not.toHaveBeenCalled();
    feed.stop();
    socket.receive({ type: "notification", notification: notification(3) });
    expect(got).toEqual(["N1", "N2"]);
  });

  it("follows the SSE stream when no socket is open, with the token and after the newest known id", async () => {
    setAccessToken("token-7");
    const stream = new ChatStream("ws://test", () => new FakeSocket() as unknown as WebSocket);
    const sse = sseStream();
    const fetchImpl = vi.fn(async () => sse.response);
    const got: string[] = [];
    const feed = new NotificationFeed(stream, (n) => got.push(n.title), fetchImpl);
    feed.setLatest(notification(4).id);
    feed.start();
    expect(feed.transport).toBe("sse");
    expect(fetchImpl).toHaveBeenCalledWith(
      `/api/v1/notifications/stream?after=${notification(4).id}`,
      expect.objectContaining({ headers: expect.objectContaining({ Authorization: "Bearer token-7" }) }),
    );
    sse.comment();
    sse.send(notification(5));
    sse.send(notification(6));
    await vi.waitFor(() => expect(got).toEqual(["N5", "N6"]));
    feed.stop();
  });

  it("reconnects after events_lost with the last id it saw", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const stream = new ChatStream("ws://test", () => new FakeSocket() as unknown as WebSocket);
      const first = sseStream();
      const second = sseStream();
      const fetchImpl = vi.fn().mockResolvedValueOnce(first.response).mockResolvedValueOnce(second.response);
      const got: string[] = [];
      const feed = new NotificationFeed(stream, (n) => got.push(n.title), fetchImpl);
      feed.start();
      expect(fetchImpl.mock.calls[0][0]).toBe("/api/v1/notifications/stream");
      first.send(notification(8));
      first.lost();
      await vi.waitFor(() => expect(got).toEqual(["N8"]));
      await vi.advanceTimersByTimeAsync(1000);
      expect(fetchImpl).toHaveBeenCalledTimes(2);
      expect(fetchImpl.mock.calls[1][0]).toBe(`/api/v1/notifications/stream?after=${notification(8).id}`);
      second.send(notification(9));
      await vi.waitFor(() => expect(got).toEqual(["N8", "N9"]));
      feed.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("drops the stream once the chat socket is ready and goes back to it when the socket closes", async () => {
    const socket = new FakeSocket();
    const stream = new ChatStream("ws://test", () => socket as unknown as WebSocket);
    const streams = [sseStream(), sseStream()];
    const signals: AbortSignal[] = [];
    const fetchImpl = vi.fn(async (_url: string, init: RequestInit) => {
      signals.push(init.signal!);
      return streams[signals.length - 1].response;
    });
    const feed = new NotificationFeed(stream, () => {}, fetchImpl);
    feed.start();
    expect(feed.transport).toBe("sse");
    stream.connect();
    socket.onopen?.();
    socket.receive({ type: "ready" });
    expect(signals[0].aborted).toBe(true);
    expect(feed.transport).toBe("websocket");
    stream.close();
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(feed.transport).toBe("sse");
    feed.stop();
    expect(signals[1].aborted).toBe(true);
  });
});
