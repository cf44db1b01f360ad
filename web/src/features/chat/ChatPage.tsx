import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { api, getAccessToken, type Model } from "../../api/client";
import { NEW_CONVERSATION } from "../../api/stream";
import { MessageList, rowsOf } from "./MessageList";
import { Sidebar } from "./Sidebar";
import { useChatStream, useConversation, useLiveReply, useMessages, useModels } from "./useChat";

const DRAFT_PREFIX = "parley:draft:";

function price(model: Model): string {
  const p = model.prices;
  return `$${p.input_usd_per_million}/$${p.output_usd_per_million} per 1M`;
}

export function ModelPicker({ models, value, onChange }: { models: Model[]; value: string; onChange: (id: string) => void }) {
  return (
    <label className="model-picker">
      <span className="visually-hidden">Model</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Model">
        {models.map((m) => (
          <option key={m.id} value={m.id} disabled={!m.available}>
            {m.display_name} · {price(m)}
            {m.available ? "" : " (unavailable)"}
          </option>
        ))}
      </select>
    </label>
  );
}

async function download(conversationId: string, format: "markdown" | "json") {
  const response = await fetch(`/api/v1/conversations/${conversationId}/export?format=${format}`, {
    headers: { Authorization: `Bearer ${getAccessToken() ?? ""}` },
  });
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `conversation-${conversationId}.${format === "markdown" ? "md" : "json"}`;
  link.click();
  URL.revokeObjectURL(link.href);
}

export function ChatPage() {
  const { conversationId } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const stream = useChatStream();
  const conversation = useConversation(conversationId);
  const messages = useMessages(conversationId);
  const models = useModels();
  const live = useLiveReply(stream, conversationId ?? NEW_CONVERSATION);
  const [newModel, setNewModel] = useState<string | null>(null);
  const draftKey = DRAFT_PREFIX + (conversationId ?? "new");
  const [draft, setDraft] = useState(() => localStorage.getItem(draftKey) ?? "");
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  // The draft follows the conversation: each keeps its own.
  useEffect(() => {
    setDraft(localStorage.getItem(draftKey) ?? "");
    setError(null);
    input.current?.focus();
  }, [draftKey]);

  // A reload during a reply: pick it up where it is.
  const generating = conversation.data?.generating_message_id;
  useEffect(() => {
    if (conversationId && generating) void stream.resume(conversationId, generating);
  }, [conversationId, generating, stream]);

  const streaming = live?.status === "streaming";
  const model = conversationId ? (conversation.data?.model ?? "") : (newModel ?? models.data?.default_model ?? "");
  const rows = useMemo(() => rowsOf(messages.data ?? [], live), [messages.data, live]);

  function updateDraft(value: string) {
    setDraft(value);
    if (value) localStorage.setItem(draftKey, value);
    else localStorage.removeItem(draftKey);
  }

  async function send() {
    const content = draft.trim();
    if (!content || streaming) return;
    updateDraft("");
    setError(null);
    try {
      const id = await stream.send(content, conversationId ?? null, conversationId ? null : model || null);
      if (!conversationId) {
        await queryClient.invalidateQueries({ queryKey: ["conversations"] });
        navigate(`/chat/${id}`);
      }
    } catch (e) {
      setError((e as Error).message);
      updateDraft(content);
    }
  }

  async function stop() {
    if (conversationId) await stream.stop(conversationId);
  }

  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === "Escape" && streaming) void stop();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  }

  async function changeModel(id: string) {
    if (!conversationId) return setNewModel(id);
    await api.PATCH("/api/v1/conversations/{conversation_id}", { params: { path: { conversation_id: conversationId } }, body: { model: id } });
    await queryClient.invalidateQueries({ queryKey: ["conversation", conversationId] });
  }

  async function ground(on: boolean) {
    if (!conversationId) return;
    await api.PATCH("/api/v1/conversations/{conversation_id}", {
      params: { path: { conversation_id: conversationId } },
      body: { grounding: on ? { knowledge: true } : null },
    });
    await queryClient.invalidateQueries({ queryKey: ["conversation", conversationId] });
  }

  return (
    <div className="chat">
      <Sidebar />
      <section className="chat-main" aria-label="Chat">
        <header className="chat-header">
          <h1 className="chat-title">{conversation.data?.title ?? "New conversation"}</h1>
          {models.data && <ModelPicker models={models.data.items} value={model} onChange={changeModel} />}
          {conversationId && conversation.data && (
            <label className="check">
              <input
                type="checkbox"
                checked={!!conversation.data.grounding?.knowledge}
                onChange={(e) => void ground(e.target.checked)}
              />{" "}
              Use my knowledge
            </label>
          )}
          {conversationId && (
            <button className="ghost small" onClick={() => download(conversationId, "markdown")}>
              Export
            </button>
          )}
        </header>
        <MessageList rows={rows} sentAt={live?.sentAt ?? null} onRegenerate={(id) => conversationId && void stream.regenerate(conversationId, id)} />
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          {error && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
          <textarea
            ref={input}
            aria-label="Message"
            placeholder="Message Parley (Enter sends, Shift+Enter for a new line)"
            rows={2}
            value={draft}
            onChange={(e) => updateDraft(e.target.value)}
            onKeyDown={onKeyDown}
          />
          {streaming ? (
            <button type="button" className="danger" onClick={() => void stop()}>
              Stop
            </button>
          ) : (
            <button type="submit" className="primary" disabled={!draft.trim()}>
              Send
            </button>
          )}
        </form>
        <p className="visually-hidden" aria-live="polite">
          {streaming ? "Parley is replying" : ""}
        </p>
      </section>
    </div>
  );
}
