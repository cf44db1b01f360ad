// Live replies: the WebSocket chat (/api/v1/ws/chat), with server-sent events as the fallback.
// Every reply's state lives in one small store keyed by conversation, read with useSyncExternalStore.
import { api, getAccessToken, type Message, type Notification } from "./client";

export type ReplyStatus = "streaming" | "done" | "error";

export interface LiveReply {
  conversationId: string;
  messageId: string | null;
  userMessage: Message | null;
  /** The user's text shown before the server has stored it. */
  pendingText: string | null;
  text: string;
  lastEventId: number;
  status: ReplyStatus;
  error: string | null;
  final: Message | null;
  sentAt: number;
  /** The stored reply a regeneration replaces (hidden while the new one streams). */
  replacing: string | null;
}

type Listener = () => void;
type Transport = "connecting" | "websocket" | "sse";

interface ServerFrame {
  type: string;
  message_id?: string;
  conversation_id?: string;
  client_id?: string;
  user_message_id?: string;
  created_conversation?: boolean;
  text?: string;
  event_id?: string;
  message?: Message | null;
  code?: string;
  detail?: string;
  title?: string;
  notification?: Notification;
}

/** Where a message to a conversation not created yet waits for its id. */
export const NEW_CONVERSATION = "new";
const RECONNECT_MS = [250, 1000, 3000, 5000];

export class ChatStream {
  private replies = new Map<string, LiveReply>();
  private byMessage = new Map<string, string>();
  private pendingSends = new Map<string, { resolve: (c: string) => void; reject: (e: Error) => void; conversationId: string | null }>();
  private listeners = new Set<Listener>();
  private socket: WebSocket | null = null;
  private attempts = 0;
  private closed = false;
  private readyWaiters: Array<() => void> = [];
  transport: Transport = "connecting";
  onTitle: ((conversationId: string, title: string) => void) | null = null;
  onReplyFinished: ((conversationId: string) => void) | null = null;
  private notificationListeners = new Set<(notification: Notification) => void>();
  private socketListeners = new Set<(open: boolean) => void>();

  /** `notification` frames pushed on this socket (the bell listens here while the chat socket is open). */
  onNotification(listener: (notification: Notification) => void): () => void {
    this.notificationListeners.add(listener);
    return () => this.notificationListeners.delete(listener);
  }

  /** Told when the socket is ready (true) or gone (false). */
  onSocketChange(listener: (open: boolean) => void): () => void {
    this.socketListeners.add(listener);
    return () => this.socketListeners.delete(listener);
  }

  /** True while an authenticated socket is open. */
  get socketOpen(): boolean {
    return this.transport === "websocket" && this.socket !== null;
  }

  constructor(private readonly url = defaultSocketUrl(), private readonly openSocket = (u: string) => new WebSocket(u)) {}

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  reply(conversationId: string | undefined): LiveReply | undefined {
    return conversationId ? this.replies.get(conversationId) : undefined;
  }

  snapshot = (): Map<string, LiveReply> => this.replies;

  connect(): void {
    this.closed = false;
    if (this.socket) return;
    let socket: WebSocket;
    try {
      socket = this.openSocket(this.url);
    } catch {
      this.useSse();
      return;
    }
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: getAccessToken() ?? "" }));
    socket.onmessage = (event) => this.onFrame(JSON.parse(String(event.data)) as ServerFrame);
    socket.onclose = () => {
      this.socket = null;
      for (const listener of this.socketListeners) listener(false);
      if (this.closed) return;
      const wasOpen = this.transport === "websocket";
      if (!wasOpen && this.attempts >= 2) {
        this.useSse();
        return;
      }
      const delay = RECONNECT_MS[Math.min(this.attempts, RECONNECT_MS.length - 1)];
      this.attempts += 1;
      this.transport = "connecting";
      window.setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
    this.socket = null;
  }

  /** Sends a message; resolves with the conversation id (a new conversation when none is given). */
  async send(content: string, conversationId: string | null, model: string | null): Promise<string> {
    await this.ready();
    const clientId = crypto.randomUUID();
    this.start(conversationId ?? NEW_CONVERSATION, content);
    if (this.transport === "websocket" && this.socket) {
      return new Promise<string>((resolve, reject) => {
        this.pendingSends.set(clientId, { resolve, reject, conversationId });
        this.socket!.send(
          JSON.stringify({
            type: "send",
            content,
            client_id: clientId,
            ...(conversationId ? { conversation_id: conversationId } : {}),
            ...(model ? { model } : {}),
          }),
        );
      });
    }
    let id = conversationId;
    if (!id) {
      const { data } = await api.POST("/api/v1/conversations", { body: model ? { model } : {} });
      if (!data) throw new Error("Could not start a conversation");
      id = data.id;
      this.replies.delete(NEW_CONVERSATION);
      this.start(id, content);
    }
    void this.streamSse(id, `/api/v1/conversations/${id}/messages`, "POST", JSON.stringify({ content, ...(model ? { model } : {}) }));
    return id;
  }

  async stop(conversationId: string): Promise<void> {
    const live = this.replies.get(conversationId);
    let messageId = live?.messageId ?? null;
    if (!messageId) {
      const { data } = await api.GET("/api/v1/conversations/{conversation_id}", { params: { path: { conversation_id: conversationId } } });
      messageId = data?.generating_message_id ?? null;
    }
    if (!messageId) return;
    if (this.transport === "websocket" && this.socket) {
      this.socket.send(JSON.stringify({ type: "stop", message_id: messageId }));
    } else {
      await api.POST("/api/v1/conversations/{conversation_id}/messages/{message_id}/stop", {
        params: { path: { conversation_id: conversationId, message_id: messageId } },
      });
    }
  }

  /** Follows a reply already under way (after a reload): its text so far, then live. */
  async resume(conversationId: string, messageId: string): Promise<void> {
    await this.ready();
    const existing = this.replies.get(conversationId);
    if (existing?.messageId === messageId && existing.status === "streaming") return;
    this.replies.set(conversationId, { ...blank(conversationId), messageId });
    this.byMessage.set(messageId, conversationId);
    this.emit();
    if (this.transport === "websocket" && this.socket) {
      this.socket.send(JSON.stringify({ type: "resume", message_id: messageId }));
    } else {
      void this.streamSse(conversationId, `/api/v1/conversations/${conversationId}/messages/${messageId}/stream`, "GET");
    }
  }

  /** Replaces the last reply: a REST call whose stream the socket follows (or read as SSE). */
  async regenerate(conversationId: string, messageId: string): Promise<void> {
    await this.ready();
    this.replies.set(conversationId, { ...blank(conversationId), replacing: messageId });
    this.emit();
    const path = `/api/v1/conversations/${conversationId}/messages/${messageId}/regenerate`;
    if (this.transport === "websocket") {
      const response = await fetch(path, { method: "POST", headers: authHeaders("application/json") });
      if (!response.ok) this.fail(conversationId, await errorText(response));
    } else {
      await this.streamSse(conversationId, path, "POST");
    }
  }

  forget(conversationId: string): void {
    if (this.replies.delete(conversationId)) this.emit();
  }

  private ready(): Promise<void> {
    if (this.transport !== "connecting") return Promise.resolve();
    this.connect();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private markReady(transport: Transport): void {
    this.transport = transport;
    for (const waiter of this.readyWaiters.splice(0)) waiter();
  }

  private useSse(): void {
    this.closed = true;
    this.markReady("sse");
  }

  private start(conversationId: string, text: string): void {
    this.replies.set(conversationId, { ...blank(conversationId), pendingText: text });
    this.emit();
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "ready":
        this.attempts = 0;
        this.markReady("websocket");
        for (const listener of this.socketListeners) listener(true);
        // Replies followed before a reconnect: pick them up where they were.
        for (const live of this.replies.values()) {
          if (live.status === "streaming" && live.messageId) {
            this.socket?.send(JSON.stringify({ type: "resume", message_id: live.messageId, last_event_id: String(live.lastEventId) }));
          }
        }
        return;
      case "ack": {
        const pending = frame.client_id ? this.pendingSends.get(frame.client_id) : undefined;
        const conversationId = frame.conversation_id!;
        if (pending) {
          this.pendingSends.delete(frame.client_id!);
          const previous = this.replies.get(pending.conversationId ?? NEW_CONVERSATION);
          // Frames of this reply that came before the ack (another socket's server may order them
          // so) are kept: the ack must never turn a reply back into an empty one.
          const current = this.replies.get(conversationId);
          const known = [current, previous].find((live) => live?.messageId === frame.message_id);
          this.replies.delete(NEW_CONVERSATION);
          this.replies.set(conversationId, {
            ...(known ?? blank(conversationId)),
            pendingText: previous?.pendingText ?? known?.pendingText ?? null,
            messageId: frame.message_id!,
            sentAt: previous?.sentAt ?? performance.now(),
          });
          this.byMessage.set(frame.message_id!, conversationId);
          this.emit();
          pending.resolve(conversationId);
        }
        return;
      }
      case "title":
        if (frame.conversation_id && frame.title) this.onTitle?.(frame.conversation_id, frame.title);
        return;
      case "pong":
        return;
      case "notification":
        if (frame.notification) for (const listener of this.notificationListeners) listener(frame.notification);
        return;
      default:
        this.apply(frame);
    }
  }

  private apply(frame: ServerFrame, knownConversation?: string): void {
    const messageId = frame.message_id ?? null;
    if (frame.type === "error" && !messageId && frame.client_id) {
      const pending = this.pendingSends.get(frame.client_id);
      if (pending) {
        this.pendingSends.delete(frame.client_id);
        this.fail(pending.conversationId ?? NEW_CONVERSATION, frame.detail ?? "Refused");
        pending.reject(new Error(frame.detail ?? "Refused"));
      }
      return;
    }
    const conversationId =
      knownConversation ?? (messageId ? this.byMessage.get(messageId) : undefined) ?? frame.message?.conversation_id;
    if (!conversationId) return;
    if (messageId) this.byMessage.set(messageId, conversationId);
    const live = this.replies.get(conversationId) ?? blank(conversationId);
    const eventId = frame.event_id ? Number(frame.event_id) : 0;
    if (eventId && eventId <= live.lastEventId && live.messageId === messageId) return; // seen already (two sources)
    const next: LiveReply = { ...live, messageId: messageId ?? live.messageId, lastEventId: eventId || live.lastEventId };
    if (frame.type === "message") next.userMessage = frame.message ?? null;
    else if (frame.type === "delta") next.text = live.text + (frame.text ?? "");
    else if (frame.type === "snapshot") next.text = frame.text ?? ""; // the whole reply so far (deltas were lost)
    else if (frame.type === "done") {
      next.status = "done";
      next.final = frame.message ?? null;
    } else if (frame.type === "error") {
      next.status = "error";
      next.error = frame.detail ?? frame.code ?? "The reply failed";
      next.final = frame.message ?? null;
    }
    this.replies.set(conversationId, next);
    this.emit();
    if (next.status !== "streaming") this.onReplyFinished?.(conversationId);
  }

  private fail(conversationId: string, detail: string): void {
    const live = this.replies.get(conversationId) ?? blank(conversationId);
    this.replies.set(conversationId, { ...live, status: "error", error: detail });
    this.emit();
    this.onReplyFinished?.(conversationId);
  }

  private async streamSse(conversationId: string, path: string, method: "GET" | "POST", body?: string): Promise<void> {
    const response = await fetch(path, { method, body, headers: authHeaders("text/event-stream", body !== undefined) });
    if (!response.ok || !response.body) {
      this.fail(conversationId, await errorText(response));
      return;
    }
    for await (const event of readEvents(response.body)) {
      const data = JSON.parse(event.data) as Record<string, unknown>;
      const live = this.replies.get(conversationId);
      const messageId = event.event === "done" || event.event === "error" ? ((data.message as Message | null)?.id ?? live?.messageId) : live?.messageId;
      this.apply(
        {
          type: event.event,
          message_id: messageId ?? undefined,
          event_id: event.id,
          text: typeof data.text === "string" ? data.text : undefined,
          message: event.event === "message" || event.event === "done" ? (data as unknown as Message) : ((data.message as Message) ?? null),
          code: typeof data.code === "string" ? data.code : undefined,
          detail: typeof data.detail === "string" ? data.detail : undefined,
        },
        conversationId,
      );
    }
  }

  private notifyScheduled = false;

  /** A new snapshot now; listeners told once per animation frame (a burst of deltas renders once). */
  private emit(): void {
    this.replies = new Map(this.replies);
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    const notify = () => {
      this.notifyScheduled = false;
      for (const listener of this.listeners) listener();
    };
    if (typeof requestAnimationFrame === "function" && document.visibilityState === "visible") requestAnimationFrame(notify);
    else setTimeout(notify, 0);
  }
}

function blank(conversationId: string): LiveReply {
  return {
    conversationId,
    messageId: null,
    userMessage: null,
    pendingText: null,
    text: "",
    lastEventId: 0,
    status: "streaming",
    error: null,
    final: null,
    sentAt: performance.now(),
    replacing: null,
  };
}

function defaultSocketUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/api/v1/ws/chat`;
}

function authHeaders(accept: string, json = false): Record<string, string> {
  const headers: Record<string, string> = { Accept: accept, Authorization: `Bearer ${getAccessToken() ?? ""}` };
  if (json) headers["Content-Type"] = "application/json";
  return headers;
}

async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: string };
    return body.detail ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Parses a text/event-stream body (comments and heartbeats skipped). */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: "message", data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const value = rest.join(":").replace(/^ /, "");
        if (field === "id") event.id = value;
        else if (field === "event") event.event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) {
        event.data = data.join("\n");
        yield event;
      }
    }
  }
}
