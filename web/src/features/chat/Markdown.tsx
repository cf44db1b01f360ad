// Model output as Markdown: GFM, sanitized, code highlighted. Raw HTML in the text is never rendered
// (react-markdown without rehype-raw shows it as text); rehype-sanitize strips anything else unsafe.
import { memo, useEffect, useState, type ReactElement, type ReactNode } from "react";
import renderMarkdown, { type Components } from "react-markdown";
import rehypeSanitize from "rehype-sanitize";
import remarkGfm from "remark-gfm";
import type { PluggableList } from "unified";

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
}

/** Raw HTML in the text (a model may write anything) becomes plain text: shown, never parsed or run. */
export function remarkHtmlAsText() {
  const walk = (node: MdNode) => {
    if (node.type === "html") node.type = "text";
    node.children?.forEach(walk);
  };
  return (tree: MdNode) => walk(tree);
}

// The highlighter (highlight.js grammars) is a chunk of its own, loaded the first time a code block
// shows up: the chat route stays within its JavaScript budget and plain replies never pay for it.
let highlighter: PluggableList | null = null;
let loading: Promise<PluggableList> | null = null;

function loadHighlighter(): Promise<PluggableList> {
  loading ??= import("rehype-highlight").then((module) => {
    highlighter = [[module.default, { detect: false }]];
    return highlighter;
  });
  return loading;
}

function useHighlighter(wanted: boolean): PluggableList {
  const [plugins, setPlugins] = useState<PluggableList>(highlighter ?? []);
  useEffect(() => {
    if (wanted && !highlighter) void loadHighlighter().then(setPlugins);
    else if (highlighter && plugins !== highlighter) setPlugins(highlighter);
  }, [wanted, plugins]);
  return plugins;
}

function textOf(node: ReactNode): string {
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (node && typeof node === "object" && "props" in node) {
    return textOf((node as { props: { children?: ReactNode } }).props.children);
  }
  return "";
}

function CodeBlock({ children }: { children?: ReactNode }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="code-block">
      <button
        type="button"
        className="copy"
        onClick={async () => {
          await navigator.clipboard?.writeText(textOf(children));
          setCopied(true);
          window.setTimeout(() => setCopied(false), 1500);
        }}
      >
        {copied ? "Copied" : "Copy"}
      </button>
      <pre>{children}</pre>
    </div>
  );
}

const COMPONENTS: Components = {
  pre: CodeBlock,
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noreferrer noopener">
      {children}
    </a>
  ),
};

// Rendered messages by text: a virtualized list mounts a row again each time it scrolls back into
// view, and parsing Markdown is the costly part. Finished messages are parsed once.
const rendered = new Map<string, ReactElement>();
const RENDERED_MAX = 3000;

function remember(key: string, element: ReactElement): ReactElement {
  if (rendered.size >= RENDERED_MAX) rendered.delete(rendered.keys().next().value as string);
  rendered.set(key, element);
  return element;
}

// react-markdown's Markdown is a pure function of its options (no hooks): called directly, its
// output (the rendered tree) can be kept and mounted again without parsing.
function render(text: string, highlight: PluggableList): ReactElement {
  return (
    <div className="markdown">
      {renderMarkdown({
        children: text,
        remarkPlugins: [remarkGfm, remarkHtmlAsText],
        rehypePlugins: [rehypeSanitize, ...highlight],
        components: COMPONENTS,
      })}
    </div>
  );
}

/** Parses a finished message ahead of time (in idle time), so it mounts without parsing later. */
export function warmMarkdown(text: string): void {
  const wantsHighlight = text.includes("```") || text.includes("~~~");
  if (wantsHighlight && !highlighter) return; // parsed when shown, once the highlighter is there
  const plugins = wantsHighlight && highlighter ? highlighter : [];
  const key = `${plugins.length}:${text}`;
  if (!rendered.has(key)) remember(key, render(text, plugins));
}

// requestIdleCallback where the browser has it (Safari does not): otherwise a short timeout.
const idle: (callback: () => void, timeout: number) => number =
  typeof window !== "undefined" && window.requestIdleCallback
    ? (callback, timeout) => window.requestIdleCallback(callback, { timeout })
    : (callback) => window.setTimeout(callback, 30);
const cancelIdle: (handle: number) => void =
  typeof window !== "undefined" && window.cancelIdleCallback ? (handle) => window.cancelIdleCallback(handle) : (handle) => window.clearTimeout(handle);

/**
 * A message's Markdown. `cache`: a finished message, parsed once and kept. `defer`: the list is being
 * flung, so a finished message not parsed yet mounts as its plain text and is parsed in idle time (at
 * most 250 ms later), one row per task: a fling mounts a screenful of rows per frame, and parsing them
 * all in that frame is what made long tasks. A row scrolled past before then is never parsed.
 */
export const Markdown = memo(function Markdown({ text, cache = false, defer = false }: { text: string; cache?: boolean; defer?: boolean }) {
  const highlight = useHighlighter(text.includes("```") || text.includes("~~~"));
  const key = `${highlight.length}:${text}`;
  const hit = cache ? rendered.get(key) : undefined;
  const [parse, setParse] = useState(() => !cache || !defer || hit !== undefined);
  useEffect(() => {
    if (parse) return;
    const handle = idle(() => setParse(true), 250);
    return () => cancelIdle(handle);
  }, [parse]);
  if (hit) return hit;
  if (!parse) {
    return (
      <div className="markdown" data-plain="">
        <p className="plain-text">{text}</p>
      </div>
    );
  }
  const element = render(text, highlight);
  return cache ? remember(key, element) : element;
});
