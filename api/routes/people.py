"""People: persons (groups of faces), their faces, and the user's corrections (name, hide, merge, split,
move a face). The grouping rules and every change live in ``core.people``; routes only map them to HTTP.

Each change runs in one transaction: ``core.people`` takes its advisory lock inside it, so a worker
storing faces or a re-cluster never interleaves with a user's edit.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import Editor
from api.db import Conn
from api.errors import ApiError, not_found
from api.media_models import Box
from api.paging import Cursor, Limit, decode_cursor, integer, next_cursor, page_limit
from core import people
from core.db import Connection

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["people"])

MAX_IDS = 10_000  # faces or persons in one request: a large merge, yet a bounded statement
NAME_MAX = 200


def chip_url(face_id: int | None) -> str | None:
    return f"/api/faces/{face_id}/chip" if face_id is not None else None


class PersonOut(BaseModel):
    id: int
    name: str = Field(description="empty for a person nobody has named yet")
    hidden: bool
    face_count: int
    media_count: int = Field(description="items in which the person appears")
    cover_face_id: int | None = Field(description="the face detected most surely")
    chip_url: str | None


class PersonPatch(BaseModel):
    name: str | None = Field(None, max_length=NAME_MAX, description="'' unnames")
    hidden: bool | None = None


class MergeIn(BaseModel):
    source_ids: list[int] = Field(min_length=1, max_length=MAX_IDS,
                                  description="persons whose faces move into this one; they are deleted")


class MergeOut(BaseModel):
    moved: int = Field(description="faces moved")


class SplitIn(BaseModel):
    face_ids: list[int] = Field(min_length=1, max_length=MAX_IDS)
    name: str = Field("", max_length=NAME_MAX)


class SplitOut(BaseModel):
    person_id: int


class FaceOut(BaseModel):
    id: int
    media_id: int
    frame_ms: int | None = Field(description="the video keyframe's time; null for a photo")
    box: Box
    chip_url: str


class FacePage(BaseModel):
    items: list[FaceOut]
    next_cursor: str | None


class SimilarFaceOut(BaseModel):
    face_id: int
    media_id: int
    person_id: int | None
    person_name: str | None
    distance: float = Field(description="euclidean distance of the 128-d encodings (same person below ~0.5)")
    chip_url: str


class FacePersonIn(BaseModel):
    person_id: int | None = Field(description="the person to put the face in; null takes it out of any")


def _media_counts(conn: Connection, person_ids: list[int]) -> dict[int, int]:
    rows = conn.execute(
        "SELECT person_id, count(DISTINCT media_id) AS n FROM face"
        " WHERE person_id = ANY(%s) GROUP BY person_id",
        (person_ids,),
    )
    return {int(r["person_id"]): int(r["n"]) for r in rows}


def _person_out(person: people.Person, media_count: int) -> PersonOut:
    return PersonOut(id=person.id, name=person.name, hidden=person.hidden, face_count=person.face_count,
                     media_count=media_count, cover_face_id=person.cover_face_id,
                     chip_url=chip_url(person.cover_face_id))


def _one(conn: Connection, person_id: int) -> PersonOut:
    try:
        person = people.get_person(conn, person_id)
    except people.PersonNotFound as exc:
        raise not_found(f"person {person_id}") from exc
    return _person_out(person, _media_counts(conn, [person_id]).get(person_id, 0))


@router.get("/people", response_model=list[PersonOut], summary="Persons, most faces first")
def list_people(conn: Conn, hidden: bool = Query(False, description="include hidden persons too")
                ) -> list[PersonOut]:
    persons = people.list_persons(conn, include_hidden=hidden)
    counts = _media_counts(conn, [p.id for p in persons])
    return [_person_out(p, counts.get(p.id, 0)) for p in persons]


@router.get("/people/{person_id}", response_model=PersonOut, summary="One person")
def get_person(person_id: int, conn: Conn) -> PersonOut:
    return _one(conn, person_id)


@router.patch("/people/{person_id}", response_model=PersonOut, summary="Name, rename or hide a person")
def patch_person(person_id: int, body: PersonPatch, principal: Editor, conn: Conn) -> PersonOut:
    try:
        with conn.transaction():
            if body.name is not None:
                people.name_person(conn, person_id, body.name)
            if body.hidden is not None:
                people.hide_person(conn, person_id, body.hidden)
            if body.name is None and body.hidden is None and not _exists(conn, person_id):
                raise people.PersonNotFound(person_id)
    except people.PersonNotFound as exc:
        raise not_found(f"person {person_id}") from exc
    log.info("%s changed person %d: %s", principal.user.name, person_id, body.model_dump(exclude_none=True))
    return _one(conn, person_id)


def _exists(conn: Connection, person_id: int) -> bool:
    return conn.execute("SELECT 1 FROM person WHERE id = %s", (person_id,)).fetchone() is not None


@router.post("/people/{person_id}/merge", response_model=MergeOut,
             summary="Move every face of the source persons into this one")
def merge(person_id: int, body: MergeIn, principal: Editor, conn: Conn) -> MergeOut:
    try:
        with conn.transaction():
            moved = people.merge_persons(conn, person_id, body.source_ids)
    except people.PersonNotFound as exc:
        raise ApiError(404, str(exc)) from exc
    log.info("%s merged persons %s into %d (%d faces)", principal.user.name, body.source_ids, person_id,
             moved)
    return MergeOut(moved=moved)


@router.post("/people/split", response_model=SplitOut, summary="Move faces into a new person")
def split(body: SplitIn, principal: Editor, conn: Conn) -> SplitOut:
    try:
        with conn.transaction():
            person_id = people.split_faces(conn, body.face_ids, name=body.name)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from exc
    log.info("%s split %d face(s) into person %d", principal.user.name, len(body.face_ids), person_id)
    return SplitOut(person_id=person_id)


@router.get("/people/{person_id}/faces", response_model=FacePage, summary="A person's faces, oldest first")
def person_faces(person_id: int, request: Request, conn: Conn, cursor: Cursor = None, limit: Limit = None,
                 ) -> FacePage:
    size = page_limit(request, limit)
    after = decode_cursor(cursor, integer)
    if not _exists(conn, person_id):
        raise not_found(f"person {person_id}")
    rows = conn.execute(
        """SELECT id, media_id, frame_ms, box_x, box_y, box_w, box_h FROM face
           WHERE person_id = %s AND id > %s ORDER BY id LIMIT %s""",
        (person_id, after[0] if after else 0, size + 1),
    ).fetchall()
    items = [FaceOut(id=r["id"], media_id=r["media_id"], frame_ms=r["frame_ms"],
                     box=Box(x=r["box_x"], y=r["box_y"], w=r["box_w"], h=r["box_h"]),
                     chip_url=f"/api/faces/{r['id']}/chip") for r in rows[:size]]
    return FacePage(items=items, next_cursor=next_cursor(rows, size, lambda r: (r["id"],)))


@router.get("/faces/{face_id}/similar", response_model=list[SimilarFaceOut],
            summary="The faces nearest to a face, closest first")
def similar(face_id: int, conn: Conn, k: int = Query(10, ge=1, le=200)) -> list[SimilarFaceOut]:
    try:
        found = people.similar_faces(conn, face_id, k)
    except LookupError as exc:
        raise not_found(f"face {face_id}") from exc
    ids = sorted({f.person_id for f in found if f.person_id is not None})
    names = {int(r["id"]): str(r["name"]) for r in conn.execute(
        "SELECT id, name FROM person WHERE id = ANY(%s)", (ids,))}
    return [SimilarFaceOut(face_id=f.face_id, media_id=f.media_id, person_id=f.person_id,
                           person_name=names.get(f.person_id) if f.person_id is not None else None,
                           distance=f.distance, chip_url=f"/api/faces/{f.face_id}/chip") for f in found]


@router.put("/faces/{face_id}/person", status_code=204,
            summary="Put a face into a person by hand, or take it out of any (a re-cluster keeps this)")
def set_face_person(face_id: int, body: FacePersonIn, principal: Editor, conn: Conn) -> Response:
    try:
        with conn.transaction():
            people.move_faces(conn, [face_id], body.person_id)
    except LookupError as exc:  # no such face, or no such person (PersonNotFound)
        raise ApiError(404, str(exc)) from exc
    log.info("%s moved face %d to person %s", principal.user.name, face_id, body.person_id)
    return Response(status_code=204)

