import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, unwrap } from "../../api/client";
import { useSession } from "../../app/session";
import { ReportButton } from "../../ui/ReportButton";
import { Snippet } from "../../ui/Snippet";

type Tab = "articles" | "search" | "paragraphs";

function Articles() {
  const { user } = useSession();
  const [whose, setWhose] = useState<"me" | "everyone">("me");
  const [status, setStatus] = useState<"" | "draft" | "published">("");
  const [tag, setTag] = useState("");
  const [q, setQ] = useState("");
  const articles = useQuery({
    queryKey: ["articles", whose, status, tag, q],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/articles", {
          params: { query: { author: whose === "me" ? "me" : undefined, status: status || undefined, tag: tag || undefined, q: q || undefined, limit: 50 } },
        }),
      ),
  });
  return (
    <section aria-labelledby="articles-title">
      <div className="row spread">
        <h2 id="articles-title">{whose === "me" ? "Your articles" : "Articles you can read"}</h2>
        <Link className="button primary" to="/knowledge/articles/new">
          New article
        </Link>
      </div>
      <div className="filters">
        <label>
          Whose
          <select value={whose} onChange={(e) => setWhose(e.target.value as typeof whose)}>
            <option value="me">Yours</option>
            <option value="everyone">Everyone's public ones too</option>
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="">Any</option>
            <option value="draft">Draft</option>
            <option value="published">Published</option>
          </select>
        </label>
        <label>
          Tag
          <input value={tag} onChange={(e) => setTag(e.target.value)} />
        </label>
        <label>
          Words
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
      </div>
      <ul className="cards">
        {articles.data?.items.map((article) => (
          <li key={article.id} className="card">
            <Link to={`/knowledge/articles/${article.id}`}>{article.title}</Link>
            <p className="meta">
              <span className={`badge ${article.status}`}>{article.status}</span> {article.visibility} · {article.tags.join(", ") || "no tags"} ·{" "}
              {new Date(article.updated_at).toLocaleDateString()}
            </p>
            {article.visibility === "public" && article.author_id !== user?.id && (
              <ReportButton kind="article" id={article.id} what={`the article “${article.title}”`} />
            )}
          </li>
        ))}
        {articles.data?.items.length === 0 && <li className="muted">No articles match.</li>}
      </ul>
    </section>
  );
}

function SearchEverything() {
  const [q, setQ] = useState("");
  const [operator, setOperator] = useState<"and" | "or">("and");
  const search = useQuery({
    queryKey: ["search", q, operator],
    enabled: q.trim().length > 0,
    queryFn: async () => unwrap(await api.GET("/api/v1/search", { params: { query: { q, operator, limit: 50 } } })),
  });
  return (
    <section aria-labelledby="search-title">
      <h2 id="search-title">Search everything</h2>
      <form className="filters" onSubmit={(e: FormEvent<HTMLFormElement>) => { e.preventDefault(); setQ(String(new FormData(e.currentTarget).get("q"))); }}>
        <label>
          Words
          <input name="q" type="search" defaultValue={q} />
        </label>
        <label>
          Match
          <select value={operator} onChange={(e) => setOperator(e.target.value as "and" | "or")}>
            <option value="and">All words</option>
            <option value="or">Any word</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {search.data && <p className="muted">{search.data.total} results</p>}
      <ul className="cards">
        {search.data?.items.map((hit) => (
          <li key={`${hit.scope}-${hit.id}`} className="card">
            {hit.scope === "articles" ? (
              <Link to={`/knowledge/articles/${hit.id}`}>{hit.title ?? "Article"}</Link>
            ) : hit.conversation_id ? (
              <Link to={`/chat/${hit.conversation_id}`}>{hit.title ?? "Conversation"}</Link>
            ) : (
              <strong>{hit.title ?? hit.scope}</strong>
            )}{" "}
            <span className="badge">{hit.scope}</span>
            <p>
              <Snippet html={hit.snippet} />
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Paragraphs() {
  const [words, setWords] = useState("");
  const [operator, setOperator] = useState<"and" | "or">("and");
  const fetchOne = useMutation({ mutationFn: async () => unwrap(await api.POST("/api/v1/paragraphs/fetch")) });
  const search = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/paragraphs/search", { body: { words: words.split(/[\s,]+/).filter(Boolean), operator, limit: 100, offset: 0 } })),
  });
  const [showDictionary, setShowDictionary] = useState(false);
  const dictionary = useQuery({
    queryKey: ["dictionary"],
    enabled: showDictionary,
    queryFn: async () => unwrap(await api.GET("/api/v1/paragraphs/dictionary", { params: { query: { exclude_stopwords: true } } })),
  });
  return (
    <section aria-labelledby="paragraphs-title">
      <h2 id="paragraphs-title">Paragraphs</h2>
      <button onClick={() => fetchOne.mutate()} disabled={fetchOne.isPending}>
        Fetch a paragraph
      </button>
      {fetchOne.data && <blockquote>{fetchOne.data.content}</blockquote>}
      {fetchOne.error && <p role="alert" className="error">{fetchOne.error.message}</p>}
      <form className="filters" onSubmit={(e) => { e.preventDefault(); search.mutate(); }}>
        <label>
          Words
          <input value={words} onChange={(e) => setWords(e.target.value)} />
        </label>
        <label>
          Match
          <select value={operator} onChange={(e) => setOperator(e.target.value as "and" | "or")}>
            <option value="and">All words (AND)</option>
            <option value="or">Any word (OR)</option>
          </select>
        </label>
        <button type="submit">Search paragraphs</button>
      </form>
      {search.data && (
        <>
          <p className="muted">{search.data.total_count} paragraphs</p>
          <ul className="cards">
            {search.data.paragraphs.map((p) => (
              <li key={p.id} className="card">{p.content}</li>
            ))}
          </ul>
        </>
      )}
      {search.error && <p role="alert" className="error">{search.error.message}</p>}
      <h3>Dictionary: the ten most frequent words</h3>
      <button onClick={() => (showDictionary ? void dictionary.refetch() : setShowDictionary(true))}>
        {showDictionary ? "Refresh the dictionary" : "Show the dictionary"}
      </button>
      <dl className="dictionary">
        {dictionary.data?.words.map((w) => (
          <div key={w.word}>
            <dt>
              {w.word} <span className="muted">×{w.count}</span>
            </dt>
            <dd>{w.definitions[0] ?? (dictionary.data.definitions_available ? "No definition found" : "Definitions are not configured")}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

export default function KnowledgePage() {
  const [tab, setTab] = useState<Tab>("articles");
  const tabs: Array<[Tab, string]> = [
    ["articles", "Articles"],
    ["search", "Search everything"],
    ["paragraphs", "Paragraphs"],
  ];
  return (
    <div className="page">
      <h1>Knowledge</h1>
      <div role="tablist" aria-label="Knowledge" className="tabs">
        {tabs.map(([id, label]) => (
          <button key={id} role="tab" id={`tab-${id}`} aria-selected={tab === id} aria-controls={`panel-${id}`} onClick={() => setTab(id)}>
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "articles" && <Articles />}
        {tab === "search" && <SearchEverything />}
        {tab === "paragraphs" && <Paragraphs />}
      </div>
    </div>
  );
}
