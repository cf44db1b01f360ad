import { useQueryClient } from "@tanstack/react-query";
import { memo, useState } from "react";
import { NavLink, useNavigate } from "react-router";
import { api, type Conversation } from "../../api/client";
import { ConfirmDialog } from "../../ui/ConfirmDialog";
import { useConversations } from "./useChat";

function ConversationItem({ conversation, archived }: { conversation: Conversation; archived: boolean }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState(false);
  const title = conversation.title ?? "New conversation";
  const path = { params: { path: { conversation_id: conversation.id } } };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["conversations"] });

  if (renaming) {
    return (
      <li>
        <form
          onSubmit={async (event) => {
            event.preventDefault();
            const value = String(new FormData(event.currentTarget).get("title")).trim();
            if (value) await api.PATCH("/api/v1/conversations/{conversation_id}", { ...path, body: { title: value } });
            setRenaming(false);
            await refresh();
            await queryClient.invalidateQueries({ queryKey: ["conversation", conversation.id] });
          }}
        >
          <input name="title" aria-label="New title" defaultValue={title} autoFocus maxLength={200} onKeyDown={(e) => e.key === "Escape" && setRenaming(false)} />
        </form>
      </li>
    );
  }
  return (
    <li>
      <NavLink to={`/chat/${conversation.id}`} className="conversation-link" title={title}>
        {title}
      </NavLink>
      <span className="item-actions">
        <button className="icon" aria-label={`Rename ${title}`} onClick={() => setRenaming(true)}>
          ✎
        </button>
        <button
          className="icon"
          aria-label={`${archived ? "Unarchive" : "Archive"} ${title}`}
          onClick={async () => {
            await api.PATCH("/api/v1/conversations/{conversation_id}", { ...path, body: { archived: !archived } });
            await refresh();
          }}
        >
          {archived ? "↺" : "▣"}
        </button>
        <ConfirmDialog
          trigger={
            <button className="icon" aria-label={`Delete ${title}`}>
              ✕
            </button>
          }
          title="Delete this conversation?"
          description={`“${title}” and all its messages are deleted for good.`}
          confirm="Delete"
          onConfirm={async () => {
            await api.DELETE("/api/v1/conversations/{conversation_id}", path);
            await refresh();
            navigate("/chat");
          }}
        />
      </span>
    </li>
  );
}

export const Sidebar = memo(function Sidebar() {
  const [q, setQ] = useState("");
  const [archived, setArchived] = useState(false);
  const conversations = useConversations(q, archived);
  const navigate = useNavigate();
  return (
    <aside className="sidebar" aria-label="Conversations">
      <button className="primary wide" onClick={() => navigate("/chat")}>
        New chat
      </button>
      <input type="search" aria-label="Search conversation titles" placeholder="Search titles" value={q} onChange={(e) => setQ(e.target.value)} />
      <label className="check">
        <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Archived
      </label>
      <ul className="conversations">
        {conversations.data?.items.map((conversation) => (
          <ConversationItem key={conversation.id} conversation={conversation} archived={archived} />
        ))}
        {conversations.data?.items.length === 0 && <li className="muted">No conversations</li>}
      </ul>
    </aside>
  );
});
