import { describe, expect, it, vi } from "vitest";
import { setAccessToken } from "./client";
import { ChatStream, readEvents } from "./stream";

class FakeSocket {
  sent: Array<Record<string, unknown>> = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.onclose?.();
  }
  receive(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

function connected() {
  const socket = new FakeSocket();
  const stream = new ChatStream("ws://test/api/v1/ws/chat", () => socket as unknown as WebSocket);
  setAccessToken("token-1");
  stream.connect();
  socket.onopen?.();
  socket.receive({ type: "ready", user_id: "u" });
  return { socket, stream };
}

describe("ChatStream over the WebSocket", () => {
  it("authenticates with the in-memory token first", () => {
    const { socket } = connected();
    expect(socket.sent[0]).toEqual({ type: "auth", token: "token-1" });
  });

  it("sends, follows the deltas once each, and finishes on done", async () => {
    const { socket, stream } = connected();
    const finished = vi.fn();
    stream.onReplyFinished = finished;
    const sending = stream.send("hello", "c1", null);
    await Promise.resolve();
    const frame = socket.sent[1];
    expect(frame).toMatchObject({ type: "send", content: "hello", conversation_id: "c1" });
    socket.receive({ type: "ack", client_id: frame.client_id, conversation_id: "c1", message_id: "m1", user_message_id: "u1" });
    await expect(sending).resolves.toBe("c1");
    socket.receive({ type: "delta", message_id: "m1", text: "Hel", event_id: "2" });
    socket.receive({ type: "delta", message_id: "m1", text: "lo", event_id: "3" });
    socket.receive({ type: "delta", message_id: "m1", text: "lo", event_id: "3" }); // the same event from a second source
    expect(stream.reply("c1")).toMatchObject({ text: "Hello", status: "streaming", pendingText: "hello" });
    socket.receive({ type: "done", message_id: "m1", event_id: "4", message: { id: "m1", content: "Hello" } });
    expect(stream.reply("c1")?.status).toBe("done");
    expect(finished).toHaveBeenCalledWith("c1");
  });

  it("keeps a reply whose frames came before its ack", async () => {
    const { socket, stream } = connected();
    const sending = stream.send("hello", null, null);
    await Promise.resolve();
    const clientId = socket.sent[1].client_id;
    socket.receive({ type: "message", message_id: "m7", event_id: "1", message: { id: "u7", conversation_id: "c7" } });
    socket.receive({ type: "delta", message_id: "m7", text: "Hello", event_id: "2" });
    socket.receive({ type: "done", message_id: "m7", event_id: "3", message: { id: "m7", content: "Hello" } });
    socket.receive({ type: "ack", client_id: clientId, conversation_id: "c7", message_id: "m7", user_message_id: "u7" });
    await expect(sending).resolves.toBe("c7");
    expect(stream.reply("c7")).toMatchObject({ text: "Hello", status: "done", pendingText: "hello" });
  });

  it("replaces the text with a snapshot, then goes on with the deltas after it", async () => {
    const { socket, stream } = connected();
    await stream.resume("c4", "m4");
    socket.receive({ type: "delta", message_id: "m4", text: "one", event_id: "2" });
    socket.receive({ type: "snapshot", message_id: "m4", text: "one two three", event_id: "4" });
    socket.receive({ type: "delta", message_id: "m4", text: " four", event_id: "5" });
    expect(stream.reply("c4")).toMatchObject({ text: "one two three four", status: "streaming", lastEventId: 5 });
  });

  it("stops a reply by its message id", async () => {
    const { socket, stream } = connected();
    await stream.resume("c2", "m9");
    expect(socket.sent.at(-1)).toEqual({ type: "resume", message_id: "m9" });
    await stream.stop("c2");
    expect(socket.sent.at(-1)).toEqual({ type: "stop", message_id: "m9" });
  });

  it("shows a refused send as an error of that conversation", async () => {
    const { socket, stream } = connected();
    const sending = stream.send("too much", "c3", null);
    await Promise.resolve();
    socket.receive({ type: "error", client_id: socket.sent[1].client_id, code: "budget_exceeded", detail: "Budget spent" });
    await expect(sending).rejects.toThrow("Budget spent");
    expect(stream.reply("c3")).toMatchObject({ status: "error", error: "Budget spent" });
  });
});

describe("readEvents", () => {
  it("parses server-sent events split across chunks, skipping heartbeats", async () => {
    const chunks = ["id: 1\nevent: message\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 2\nev", "ent: delta\ndata: {\"text\":\"hi\"}\n\n"];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const events = [];
    for await (const event of readEvents(body)) events.push(event);
    expect(events).toEqual([
      { id: "1", event: "message", data: '{"a":1}' },
      { id: "2", event: "delta", data: '{"text":"hi"}' },
    ]);
  });
});
