// The article editor: Markdown with a live preview, tags, publish, summarize. A chunk of its own.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { Markdown } from "../chat/Markdown";

export default function ArticleEditor() {
  const { articleId } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const article = useQuery({
    queryKey: ["article", articleId],
    enabled: !!articleId,
    queryFn: async () => unwrap(await api.GET("/api/v1/articles/{article_id}", { params: { path: { article_id: articleId! } } })),
  });
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [tags, setTags] = useState("");
  const [visibility, setVisibility] = useState<"private" | "public">("private");
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    if (!article.data) return;
    setTitle(article.data.title);
    setBody(article.data.body);
    setTags(article.data.tags.join(", "));
    setVisibility(article.data.visibility as "private" | "public");
  }, [article.data]);

  const save = useMutation({
    mutationFn: async (status: "draft" | "published") => {
      const fields = { title, body, tags: tags.split(",").map((t) => t.trim()).filter(Boolean), status, visibility };
      if (articleId) {
        return unwrap(await api.PATCH("/api/v1/articles/{article_id}", { params: { path: { article_id: articleId } }, body: fields }));
      }
      return unwrap(await api.POST("/api/v1/articles", { body: fields }));
    },
    onSuccess: async (saved) => {
      setSaved(saved.status === "published" ? "Published" : "Saved as a draft");
      await queryClient.invalidateQueries({ queryKey: ["articles"] });
      queryClient.setQueryData(["article", saved.id], saved);
      if (!articleId) navigate(`/knowledge/articles/${saved.id}`, { replace: true });
    },
  });
  const summarize = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/articles/{article_id}/summarize", { params: { path: { article_id: articleId! } } })),
  });
  const remove = useMutation({
    mutationFn: async () => {
      await api.DELETE("/api/v1/articles/{article_id}", { params: { path: { article_id: articleId! } } });
      await queryClient.invalidateQueries({ queryKey: ["articles"] });
      navigate("/knowledge");
    },
  });

  return (
    <div className="page editor">
      <h1>{articleId ? "Edit article" : "New article"}</h1>
      <label>
        Title
        <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
      </label>
      <div className="filters">
        <label>
          Tags (comma separated)
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        <label>
          Visibility
          <select value={visibility} onChange={(e) => setVisibility(e.target.value as "private" | "public")}>
            <option value="private">Private</option>
            <option value="public">Public</option>
          </select>
        </label>
      </div>
      <div className="split">
        <label>
          Body (Markdown)
          <textarea value={body} onChange={(e) => setBody(e.target.value)} rows={18} />
        </label>
        <section aria-label="Preview" className="preview">
          <h2 className="visually-hidden">Preview</h2>
          <Markdown text={body || "*Nothing to preview yet*"} />
        </section>
      </div>
      {save.error && <p role="alert" className="error">{save.error.message}</p>}
      {saved && <p role="status">{saved}</p>}
      <div className="row">
        <button onClick={() => save.mutate("draft")} disabled={!title.trim() || save.isPending}>
          Save draft
        </button>
        <button className="primary" onClick={() => save.mutate("published")} disabled={!title.trim() || save.isPending}>
          Publish
        </button>
        {articleId && (
          <>
            <button onClick={() => summarize.mutate()} disabled={summarize.isPending}>
              Summarize
            </button>
            <button className="danger" onClick={() => remove.mutate()}>
              Delete
            </button>
          </>
        )}
      </div>
      {summarize.data && (
        <section aria-label="Summary" className="card">
          <h2>Summary</h2>
          <p>{summarize.data.summary}</p>
          <p className="meta">{summarize.data.model}{summarize.data.cached ? " · cached" : ""}</p>
        </section>
      )}
      {summarize.error && <p role="alert" className="error">{summarize.error.message}</p>}
    </div>
  );
}
