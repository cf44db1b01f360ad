// Search snippets come HTML-escaped with matches in <mark>: shown as text and <mark> elements, never as HTML.
const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

export function Snippet({ html }: { html: string }) {
  const parts = html.split(/(<mark>.*?<\/mark>)/g).filter(Boolean);
  return (
    <span className="snippet">
      {parts.map((part, index) =>
        part.startsWith("<mark>") ? <mark key={index}>{unescape(part.slice(6, -7))}</mark> : <span key={index}>{unescape(part)}</span>,
      )}
    </span>
  );
}
