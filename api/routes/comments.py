"""Comments on media items. Bodies are plain text, stored and returned exactly as written (inside JSON);
the page renders them as text, never as HTML. The author's name is kept with the comment, so it still
reads right after the user is renamed or deleted."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from api.auth import Editor, Viewer
from api.db import Conn
from api.errors import not_found
from api.ids import CommentIdPath, MediaIdPath
from api.media_detail import list_comments
from api.media_models import Comment
from api.text import CommentBody

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["comments"])


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: CommentBody


@router.get("/media/{media_id}/comments", response_model=list[Comment],
            summary="An item's comments, oldest first", responses={404: {"description": "no such item"}})
def get_comments(media_id: MediaIdPath, conn: Conn, principal: Viewer) -> list[Comment]:
    if conn.execute("SELECT 1 FROM media WHERE id = %s AND status = 'ready'", (media_id,)).fetchone() is None:
        raise not_found(f"media item {media_id}")
    return list_comments(conn, media_id)


@router.post("/media/{media_id}/comments", response_model=Comment, status_code=201,
             summary="Comment on an item (editors)",
             responses={403: {"description": "not an editor"}, 404: {"description": "no such media item"}})
def add_comment(media_id: MediaIdPath, body: CommentIn, conn: Conn, principal: Editor) -> Comment:
    # One statement: the item cannot vanish between a check and the insert.
    row = conn.execute(
        """INSERT INTO media_comment (media_id, user_id, author, body)
           SELECT id, %s, %s, %s FROM media WHERE id = %s AND status = 'ready'
           RETURNING id, media_id, author, user_id, body, created_at""",
        (principal.user.id, principal.user.name, body.body, media_id),
    ).fetchone()
    if row is None:
        raise not_found(f"media item {media_id}")
    log.info("comment %d on media %d by %s", row["id"], media_id, principal.user.name)
    return Comment(**row)


@router.delete("/comments/{comment_id}", status_code=204, summary="Delete a comment (editors)",
               responses={403: {"description": "not an editor"}, 404: {"description": "no such comment"}})
def delete_comment(comment_id: CommentIdPath, conn: Conn, principal: Editor) -> Response:
    row = conn.execute("DELETE FROM media_comment WHERE id = %s RETURNING media_id", (comment_id,)).fetchone()
    if row is None:
        raise not_found(f"comment {comment_id}")
    log.info("comment %d on media %d deleted by %s", comment_id, row["media_id"], principal.user.name)
    return Response(status_code=204)
