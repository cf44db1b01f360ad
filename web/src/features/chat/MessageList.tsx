// The conversation, virtualized: only the messages in view are in the DOM, so 2,000 messages scroll smoothly.
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useLayoutEffect, useRef } from "react";
import { usd, type Message } from "../../api/client";
import type { LiveReply } from "../../api/stream";
import { ReportButton } from "../../ui/ReportButton";
import { Snippet } from "../../ui/Snippet";
import { Markdown, warmMarkdown } from "./Markdown";

export interface Row {
  key: string;
  role: string;
  content: string;
  message: Message | null;
  streaming: boolean;
  error: string | null;
}

export function rowsOf(stored: Message[], live: LiveReply | undefined): Row[] {
  const hidden = new Set([live?.messageId, live?.userMessage?.id, live?.replacing].filter(Boolean));
  const rows: Row[] = stored
    .filter((m) => !hidden.has(m.id))
    .map((m) => ({ key: m.id, role: m.role, content: m.content, message: m, streaming: false, error: m.error_code }));
  if (!live) return rows;
  const user = live.userMessage;
  if (user) rows.push({ key: user.id, role: "user", content: user.content, message: user, streaming: false, error: null });
  else if (live.pendingText !== null) rows.push({ key: "pending", role: "user", content: live.pendingText, message: null, streaming: false, error: null });
  const final = live.final;
  rows.push({
    key: live.messageId ?? "live",
    role: "assistant",
    content: final?.content ?? live.text,
    message: final,
    streaming: live.status === "streaming",
    error: live.error,
  });
  return rows;
}

const LINE = 24; // 1rem text, line-height 1.5
const CHAR = 8.2; // the average width of a character of the UI font, in px

/**
 * A row's height before it is measured, from its text and the list's width: counted lines, block gaps,
 * the usage line and the actions of a reply. Close guesses keep the scrollbar and the scroll position
 * steady, and measuring a row then moves the rows after it by little.
 */
export function estimateRowHeight(row: Row, width: number): number {
  const bubble = Math.min(Math.max(width - 32, 200), 768) - 29; // the list's and the bubble's padding
  const perLine = Math.max(16, Math.floor(bubble / CHAR));
  let lines = 0;
  let gaps = 0;
  for (const line of row.content.split("\n")) {
    if (line.trim() === "") gaps++;
    else lines += Math.ceil(line.length / perLine);
  }
  const frame = 11 + 16; // the row's and the bubble's padding
  if (row.role === "user") return frame + Math.max(1, lines + gaps) * LINE;
  const details = row.message && !row.streaming ? 20 + 12 + 30 : 0; // usage line, margins, actions
  return frame + Math.max(1, lines) * LINE + (gaps + 1) * 13 + 12 + details;
}

const Details = memo(function Details({ message }: { message: Message }) {
  const usage = message.usage;
  return (
    <>
      {message.citations.length > 0 && (
        <details className="citations">
          <summary>{message.citations.length} cited passages</summary>
          <ol>
            {message.citations.map((c) => (
              <li key={c.n} value={c.n}>
                <strong>{c.title ?? (c.kind === "paragraph" ? "Paragraph" : "Article")}</strong> <Snippet html={c.snippet} />
              </li>
            ))}
          </ol>
        </details>
      )}
      <p className="meta">
        {message.model}
        {usage && ` · ${usage.input_tokens} in / ${usage.output_tokens} out tokens`}
        {` · ${usd(message.cost_micros)}`}
        {message.latency_ms != null && ` · ${(message.latency_ms / 1000).toFixed(1)} s`}
        {message.finish_reason === "cancelled" && " · stopped"}
        {message.status === "interrupted" && " · interrupted"}
      </p>
    </>
  );
});

export const Bubble = memo(function Bubble({ row, onRegenerate, defer = false }: { row: Row; onRegenerate?: () => void; defer?: boolean }) {
  // A finished model reply can be reported to the moderators (the id of the stored message).
  const reportable = row.role === "assistant" && row.message && !row.streaming ? row.message.id : null;
  return (
    <article className={`bubble ${row.role}`} aria-label={row.role === "user" ? "You" : "Assistant"} data-streaming={row.streaming || undefined}>
      {row.role === "user" ? <p className="user-text">{row.content}</p> : <Markdown text={row.content || (row.streaming ? "…" : "")} cache={!row.streaming} defer={defer} />}
      {row.error && !row.streaming && (
        <p className="error" role="alert">
          {row.error}
        </p>
      )}
      {row.role === "assistant" && row.message && !row.streaming && <Details message={row.message} />}
      {(onRegenerate || reportable) && (
        <div className="bubble-actions">
          {onRegenerate && (
            <button className="ghost small" onClick={onRegenerate}>
              Regenerate
            </button>
          )}
          {reportable && <ReportButton kind="message" id={reportable} what="this reply" />}
        </div>
      )}
    </article>
  );
});

export function MessageList({ rows, onRegenerate, sentAt }: { rows: Row[]; onRegenerate: (messageId: string) => void; sentAt: number | null }) {
  const parent = useRef<HTMLDivElement>(null);
  // The virtualizer asks for the estimate of every row not measured yet each time a measurement
  // changes (2,000 calls per row mounted): the estimates are kept per row, for the list's width.
  const width = useRef(800);
  const estimates = useRef(new Map<string, { content: string; width: number; height: number }>());
  const estimate = (row: Row) => {
    const known = estimates.current.get(row.key);
    if (known && known.content === row.content && known.width === width.current) return known.height;
    const height = estimateRowHeight(row, width.current);
    estimates.current.set(row.key, { content: row.content, width: width.current, height });
    return height;
  };
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parent.current,
    estimateSize: (index) => estimate(rows[index]),
    // Rows beyond the screen, each way: enough for keyboard and wheel steps, few enough that a fling
    // mounts little per frame.
    overscan: 3,
    // Scrolling re-renders with React's batching instead of synchronously inside each scroll event:
    // the scroll events of a frame make one render, not one each (at 4x CPU slowdown: 7 and 8 long
    // tasks a fling with flushSync, 0 to 12 without, on a shared machine). A flung row may show up a
    // frame later.
    useFlushSync: false,
    // A first guess until the list is measured (also what renders where nothing is laid out, as in jsdom).
    initialRect: { width: 800, height: 800 },
    getItemKey: (index) => rows[index].key,
  });
  width.current = Math.round((virtualizer.scrollRect?.width ?? 800) / 50) * 50; // observed, never read from layout here
  const last = rows[rows.length - 1];
  const lastLength = last?.content.length ?? 0;
  const stick = useRef(true);

  useLayoutEffect(() => {
    if (stick.current && rows.length) virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
  }, [rows.length, lastLength, virtualizer]);

  // Enter-to-first-token, as painted: recorded for the benchmark (window.__parleyFirstToken). Live
  // replies render in an animation-frame callback (stream.ts), so a task queued from this commit runs
  // once that frame is painted.
  const measured = useRef<number | null>(null);
  useEffect(() => {
    if (sentAt === null || last?.role !== "assistant" || lastLength === 0 || measured.current === sentAt) return;
    measured.current = sentAt;
    setTimeout(() => {
      const w = window as unknown as { __parleyFirstToken?: number[] };
      (w.__parleyFirstToken ??= []).push(performance.now() - sentAt);
    });
  }, [sentAt, last?.role, lastLength]);

  // Parse the replies not in view yet while the page is idle, newest first, in slices that leave
  // the main thread free: scrolling back then only mounts what is already rendered.
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  useEffect(() => {
    const texts = rowsRef.current.filter((r) => r.role !== "user" && !r.streaming).map((r) => r.content);
    let next = texts.length - 1;
    const idle =
      window.requestIdleCallback?.bind(window) ??
      ((callback: IdleRequestCallback) => window.setTimeout(() => callback({ didTimeout: false, timeRemaining: () => 8 }), 30));
    const cancel = window.cancelIdleCallback?.bind(window) ?? window.clearTimeout.bind(window);
    let handle = 0;
    // At most ~10 ms a slice: an idle period can last 50 ms, and filling it (plus the parse that
    // overruns it) made a long task of its own while the list was being flung.
    const work = (deadline: IdleDeadline) => {
      const until = performance.now() + Math.min(10, deadline.timeRemaining() - 2);
      while (next >= 0 && performance.now() < until) warmMarkdown(texts[next--]);
      if (next >= 0) handle = idle(work);
    };
    handle = idle(work);
    return () => cancel(handle);
  }, [rows.length]);

  const lastAssistant = last?.role === "assistant" && !last.streaming && last.message ? last.message.id : null;
  return (
    <div
      ref={parent}
      className="messages"
      role="log"
      aria-live="polite"
      aria-label="Messages"
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      }}
    >
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {virtualizer.getVirtualItems().map((item) => {
          const row = rows[item.index];
          return (
            <div key={item.key} data-index={item.index} ref={virtualizer.measureElement} className="row-wrap" style={{ transform: `translateY(${item.start}px)` }}>
              <Bubble row={row} defer={virtualizer.isScrolling} onRegenerate={row.message && row.message.id === lastAssistant ? () => onRegenerate(row.message!.id) : undefined} />
            </div>
          );
        })}
      </div>
      {rows.length === 0 && <p className="empty">Ask anything. Enter sends, Shift+Enter adds a line, Esc stops a reply.</p>}
    </div>
  );
}
