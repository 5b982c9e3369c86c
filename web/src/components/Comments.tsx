import { useState, type FormEvent } from "react";
import { api, messageOf } from "../api/client";
import type { Comment } from "../api/types";
import { allows, useAuth } from "../auth";
import { formatDateTime } from "../lib/format";

export function Comments({ mediaId, initial }: { mediaId: number; initial: Comment[] }) {
  const { user } = useAuth();
  const [comments, setComments] = useState(initial);
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function add(e: FormEvent) {
    e.preventDefault();
    if (!body.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const c = await api.post<Comment>(`/api/media/${mediaId}/comments`, { body });
      setComments((cs) => [...cs, c]);
      setBody("");
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove(id: number) {
    try {
      await api.delete(`/api/comments/${id}`);
      setComments((cs) => cs.filter((c) => c.id !== id));
    } catch (err) {
      setError(messageOf(err));
    }
  }

  return (
    <section aria-labelledby="comments-title" className="card">
      <h2 id="comments-title">Comments ({comments.length})</h2>
      <ol className="comments">
        {comments.map((c) => (
          <li key={c.id}>
            <p className="comment-meta"><strong>{c.author}</strong> <time dateTime={c.created_at}>{formatDateTime(c.created_at)}</time>
              {allows(user, "editor") && <button type="button" className="link" onClick={() => void remove(c.id)}
                aria-label={`Delete the comment by ${c.author}`}>Delete</button>}</p>
            {/* Plain text: React escapes it; white-space keeps the line breaks. */}
            <p className="comment-body">{c.body}</p>
          </li>
        ))}
      </ol>
      {allows(user, "editor") && (
        <form onSubmit={(e) => void add(e)} className="comment-form">
          <label htmlFor="comment-body">Add a comment</label>
          <textarea id="comment-body" value={body} onChange={(e) => setBody(e.target.value)} rows={3} maxLength={10000} />
          <button type="submit" className="primary" disabled={busy || !body.trim()}>Comment</button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
