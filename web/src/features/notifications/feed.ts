// Live notifications for the bell: the chat WebSocket's `notification` frames while that socket is open,
// otherwise the notifications SSE stream (GET /api/v1/notifications/stream), resumed with `after`.
import { getAccessToken, type Notification } from "../../api/client";
import { readEvents, type ChatStream } from "../../api/stream";

const RETRY_MS = [1000, 3000, 10_000];

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export class NotificationFeed {
  private seen = new Set<string>();
  private lastId: string | null = null;
  private sse: AbortController | null = null;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private unsubscribe: Array<() => void> = [];

  constructor(
    private readonly stream: ChatStream,
    private readonly onNotification: (notification: Notification) => void,
    private readonly fetchImpl: Fetch = (input, init) => fetch(input, init),
  ) {}

  /** The newest id already known (the inbox's first item), so the stream sends only what is newer. */
  setLatest(id: string | null): void {
    if (id && (!this.lastId || id > this.lastId)) this.lastId = id;
  }

  get transport(): "websocket" | "sse" | "idle" {
    if (!this.running) return "idle";
    return this.sse ? "sse" : this.stream.socketOpen ? "websocket" : "idle";
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe.push(
      this.stream.onNotification((n) => this.deliver(n)),
      this.stream.onSocketChange((open) => (open ? this.stopSse() : this.startSse())),
    );
    if (!this.stream.socketOpen) this.startSse();
  }

  stop(): void {
    this.running = false;
    for (const off of this.unsubscribe.splice(0)) off();
    this.stopSse();
  }

  private deliver(notification: Notification): void {
    if (this.seen.has(notification.id)) return; // the socket and the stream can overlap for a moment
    this.seen.add(notification.id);
    this.setLatest(notification.id);
    this.onNotification(notification);
  }

  private stopSse(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.sse?.abort();
    this.sse = null;
  }

  private startSse(): void {
    if (!this.running || this.sse || this.stream.socketOpen) return;
    const controller = new AbortController();
    this.sse = controller;
    void this.follow(controller).finally(() => {
      if (this.sse !== controller) return;
      this.sse = null;
      if (!this.running || controller.signal.aborted || this.stream.socketOpen) return;
      const delay = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
      this.retries += 1;
      this.retryTimer = setTimeout(() => this.startSse(), delay);
    });
  }

  private async follow(controller: AbortController): Promise<void> {
    const query = this.lastId ? `?after=${encodeURIComponent(this.lastId)}` : "";
    try {
      const response = await this.fetchImpl(`/api/v1/notifications/stream${query}`, {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${getAccessToken() ?? ""}` },
        signal: controller.signal,
      });
      if (!response.ok || !response.body) return;
      this.retries = 0;
      for await (const event of readEvents(response.body)) {
        if (event.event === "notification") this.deliver(JSON.parse(event.data) as Notification);
        else if (event.event === "events_lost") return; // reconnect with `after`
      }
    } catch {
      // aborted or the network went away: the retry above decides
    }
  }
}
