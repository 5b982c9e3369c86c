"""People: faces grouped into persons, and the operations on persons. Database only (the API calls
these too), every neighbour search through the ``face.encoding`` HNSW index, never an N x N matrix.

The grouping rule is DBSCAN's, as Immich applies it (eps = ``max_distance``, minPts = ``min_faces``),
on dlib's 128-d encodings with euclidean distance:

- a face is *core* when at least ``min_faces`` faces (itself included) lie within ``max_distance``;
- a face joins the person most common among its neighbours within ``max_distance`` (nearest first
  on a tie), whether or not it is core;
- a core face with no person among its neighbours founds a new person together with them;
- a core face pulls its unassigned neighbours into its person, and so on from those that are core
  (DBSCAN's expansion);
- anything else stays unassigned until a later face makes it part of a dense group.

``assign_faces`` applies this incrementally as faces arrive (the faces store calls it). The outcome can
depend on arrival order; ``recluster`` recomputes it for the whole library.

What survives a re-cluster (the decision, and why): the user's work is never undone, so the faces of
*named* or *hidden* persons and every face the user placed by hand (``assigned_by = 'user'``: merged,
split off, moved, or taken out of a person) are frozen. Only the other faces are re-clustered; a new
cluster that reaches frozen faces joins their person (named persons grow), and an unnamed cluster keeps
the id of the unnamed person it overlaps most, so links to unnamed persons survive too. Matching whole
clusterings by overlap alone would let a re-cluster merge two persons the user named apart.

Every function that changes persons works inside the caller's transaction and takes one advisory lock
before it writes, so workers storing faces, a re-cluster and user edits never interleave (a new person
founded twice, a face moved by the user and pulled back by a worker). Call them inside a transaction:
under autocommit the lock would end with its own statement.

Cost: a neighbour search is one HNSW index scan, about 2 to 3 ms per face for 20,000 faces on these
machines (bench/README.md); a re-cluster is one search per face that is not frozen.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from psycopg.pq import TransactionStatus

from core.db import Connection

log = logging.getLogger(__name__)

PEOPLE_LOCK = 727_270  # pg_advisory_xact_lock key shared by every person-changing operation
# Neighbours fetched per face. Enough for DBSCAN's density test at any sensible min_faces, and below
# pgvector's default hnsw.ef_search (40), so the index returns them all in one pass.
NEIGHBOURS = 32
_DEFAULT_EF_SEARCH = 40
# Two encodings this close are the same face seen again (a redelivered job, a re-encoded copy); the
# measured distance between a photo and its 240p copy is 0.15 and between different photos of one
# person 0.34 to 0.43.
SAME_FACE_DISTANCE = 0.15
# The re-cluster looks further: its links must cross bursts of near-identical shots (see recluster).
RECLUSTER_NEIGHBOURS = 64
_BATCH = 256


class PersonNotFound(LookupError):
    """No person with that id."""


@dataclass(frozen=True)
class Neighbour:
    face_id: int
    person_id: int | None
    assigned_by: str
    distance: float


@dataclass(frozen=True)
class SimilarFace:
    face_id: int
    media_id: int
    person_id: int | None
    frame_ms: int | None
    chip_path: str
    distance: float


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    hidden: bool
    face_count: int
    cover_face_id: int | None


@dataclass
class AssignReport:
    joined: int = 0  # faces that joined an existing person
    created: list[int] = field(default_factory=list)  # persons founded
    grouped: int = 0  # faces placed in a person founded or grown here (expansion included)
    unassigned: int = 0  # faces left without a person

    def as_dict(self) -> dict[str, object]:
        return {"joined": self.joined, "created": self.created, "grouped": self.grouped,
                "unassigned": self.unassigned}


@dataclass
class ReclusterReport:
    faces: int = 0
    frozen: int = 0
    clusters: int = 0
    persons_kept: int = 0  # unnamed persons whose id carried over to a new cluster
    persons_created: int = 0
    persons_deleted: int = 0
    joined_frozen: int = 0  # clusters or single faces that joined a named/hidden/hand-made person
    assigned: int = 0
    unassigned: int = 0
    changed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def lock(conn: Connection) -> None:
    """Serialise person changes with every other writer until this transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PEOPLE_LOCK,))


def vector_literal(values: Iterable[float]) -> str:
    """pgvector's text form (``[1,2,3]``), passed as a parameter and cast with ``::vector``."""
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


# --- neighbours ------------------------------------------------------------------------------------


def neighbours(conn: Connection, face_ids: Sequence[int], *, k: int = NEIGHBOURS,
               max_distance: float | None = None) -> dict[int, list[Neighbour]]:
    """The ``k`` nearest other faces of each face (closest first), optionally within ``max_distance``.

    One statement per batch: the LATERAL subquery runs the index scan once per query face.
    """
    result: dict[int, list[Neighbour]] = {face_id: [] for face_id in face_ids}
    ids = list(result)
    if k + 1 > _DEFAULT_EF_SEARCH:
        # HNSW returns at most ef_search candidates per scan (the query face itself among them). Set for
        # the transaction only; outside one (autocommit) a local setting would end with its statement.
        in_transaction = conn.info.transaction_status != TransactionStatus.IDLE
        conn.execute("SELECT set_config('hnsw.ef_search', %s, %s)", (str(min(1000, k + 8)), in_transaction))
    for start in range(0, len(ids), _BATCH):
        rows = conn.execute(
            """
            SELECT q.id AS query_id, n.id, n.person_id, n.assigned_by, n.distance
            FROM face q
            CROSS JOIN LATERAL (
                SELECT f.id, f.person_id, f.assigned_by, f.encoding <-> q.encoding AS distance
                FROM face f
                WHERE f.id <> q.id
                ORDER BY f.encoding <-> q.encoding
                LIMIT %s
            ) n
            WHERE q.id = ANY(%s)
            ORDER BY q.id, n.distance
            """,
            (k, ids[start:start + _BATCH]),
        ).fetchall()
        for row in rows:
            if max_distance is None or row["distance"] <= max_distance:
                result[row["query_id"]].append(
                    Neighbour(row["id"], row["person_id"], row["assigned_by"], float(row["distance"])))
    return result


def similar_faces(conn: Connection, face_id: int, k: int = 10) -> list[SimilarFace]:
    """The ``k`` faces nearest to a stored face, closest first (from the index)."""
    row = conn.execute("SELECT encoding::text AS encoding FROM face WHERE id = %s", (face_id,)).fetchone()
    if row is None:
        raise LookupError(f"no face {face_id}")
    return _nearest(conn, row["encoding"], k, exclude=face_id)


def similar_to_encoding(conn: Connection, encoding: Sequence[float], k: int = 10) -> list[SimilarFace]:
    """The ``k`` stored faces nearest to an encoding (a face in a query image), closest first."""
    return _nearest(conn, vector_literal(encoding), k, exclude=None)


def _nearest(conn: Connection, vector: str, k: int, *, exclude: int | None) -> list[SimilarFace]:
    rows = conn.execute(
        """
        SELECT id, media_id, person_id, frame_ms, chip_path, encoding <-> %(v)s::vector AS distance
        FROM face
        WHERE id IS DISTINCT FROM %(exclude)s
        ORDER BY encoding <-> %(v)s::vector
        LIMIT %(k)s
        """,
        {"v": vector, "k": k, "exclude": exclude},
    ).fetchall()
    return [SimilarFace(r["id"], r["media_id"], r["person_id"], r["frame_ms"], r["chip_path"],
                        float(r["distance"])) for r in rows]


# --- incremental grouping ----------------------------------------------------------------------------


def assign_faces(conn: Connection, face_ids: Sequence[int], *, max_distance: float,
                 min_faces: int) -> AssignReport:
    """Group newly stored faces into persons (the rule in the module docstring).

    A new face can also make an unassigned neighbour dense enough to be core, so those neighbours are
    looked at again too (once each), which keeps the outcome close to a full DBSCAN.
    """
    lock(conn)
    report = AssignReport()
    new = sorted(set(face_ids))
    is_new = set(new)
    pending = deque(new)
    seen: set[int] = set()
    while pending:
        face_id = pending.popleft()
        if face_id in seen:
            continue
        seen.add(face_id)
        row = conn.execute("SELECT person_id, assigned_by FROM face WHERE id = %s", (face_id,)).fetchone()
        if row is None or row["person_id"] is not None or row["assigned_by"] == "user":
            continue  # gone, already pulled into a person by an earlier face, or placed by hand
        near = neighbours(conn, [face_id], max_distance=max_distance)[face_id]
        person = _vote(near)
        core = len(near) + 1 >= min_faces
        if person is not None:
            _set_person(conn, [face_id], person)
            report.joined += 1
        elif core:
            person = _new_person(conn)
            report.created.append(person)
            _set_person(conn, [face_id], person)
            report.grouped += 1
        if person is not None and core:
            report.grouped += _expand(conn, person, face_id, near, max_distance=max_distance,
                                      min_faces=min_faces)
        if face_id in is_new:
            pending.extend(n.face_id for n in near if n.person_id is None and n.assigned_by == "auto")
    if new:
        left = conn.execute("SELECT count(*) AS n FROM face WHERE id = ANY(%s) AND person_id IS NULL",
                            (new,)).fetchone()
        report.unassigned = int(left["n"]) if left else 0
    return report


def _vote(near: Sequence[Neighbour]) -> int | None:
    """The person most common among the neighbours; on a tie the one with the nearest face."""
    counts = Counter(n.person_id for n in near if n.person_id is not None)
    if not counts:
        return None
    best = max(counts.values())
    for n in near:  # closest first
        if n.person_id is not None and counts[n.person_id] == best:
            return n.person_id
    raise AssertionError("unreachable")


def _expand(conn: Connection, person: int, start: int, near: Sequence[Neighbour], *,
            max_distance: float, min_faces: int) -> int:
    """DBSCAN's expansion from a core face: unassigned neighbours join, core ones spread further."""
    added = 0
    queue: deque[tuple[int, Sequence[Neighbour]]] = deque([(start, near)])
    while queue:
        _face, around = queue.popleft()
        free = [n.face_id for n in around if n.person_id is None and n.assigned_by == "auto"]
        if not free:
            continue
        claimed = conn.execute(
            """UPDATE face SET person_id = %s, assigned_by = 'auto'
               WHERE id = ANY(%s) AND person_id IS NULL AND assigned_by = 'auto' RETURNING id""",
            (person, free),
        ).fetchall()
        ids = [r["id"] for r in claimed]
        added += len(ids)
        if ids:
            for face_id, further in neighbours(conn, ids, max_distance=max_distance).items():
                if len(further) + 1 >= min_faces:
                    queue.append((face_id, further))
    return added


def _new_person(conn: Connection, name: str = "") -> int:
    row = conn.execute("INSERT INTO person (name) VALUES (%s) RETURNING id", (name,)).fetchone()
    assert row is not None
    return int(row["id"])


def _set_person(conn: Connection, face_ids: Sequence[int], person: int | None, by: str = "auto") -> None:
    conn.execute("UPDATE face SET person_id = %s, assigned_by = %s WHERE id = ANY(%s)",
                 (person, by, list(face_ids)))


def delete_empty_persons(conn: Connection, candidates: Sequence[int] | None = None) -> int:
    """Drop persons left without faces, unless the user named or hid them. ``candidates`` limits the
    check to persons that may just have lost faces (a store), instead of every person."""
    if candidates is not None and not candidates:
        return 0
    rows = conn.execute(
        """DELETE FROM person p WHERE p.name = '' AND NOT p.hidden
           AND (%(all)s OR p.id = ANY(%(ids)s))
           AND NOT EXISTS (SELECT 1 FROM face f WHERE f.person_id = p.id) RETURNING id""",
        {"all": candidates is None, "ids": list(candidates or [])},
    ).fetchall()
    return len(rows)


# --- full re-cluster ---------------------------------------------------------------------------------


_STATE = """SELECT f.id, f.person_id, f.assigned_by,
                   f.assigned_by = 'user' OR coalesce(p.name <> '' OR p.hidden, false) AS frozen
            FROM face f LEFT JOIN person p ON p.id = f.person_id"""


def recluster(conn: Connection, *, max_distance: float, min_faces: int) -> ReclusterReport:
    """Re-group every face that is not frozen (see the module docstring), with DBSCAN over the index.

    The neighbour searches (almost all of the time: about 3 ms per face) run before the lock is taken,
    so workers keep storing faces meanwhile; the grouping itself is then decided under the lock from
    the state at that moment. Faces stored meanwhile were grouped incrementally and are left as they are.
    """
    started = time.monotonic()
    report = ReclusterReport()
    known = {r["id"]: r["frozen"] for r in conn.execute(_STATE)}
    near = neighbours(conn, [f for f, is_frozen in known.items() if not is_frozen], k=RECLUSTER_NEIGHBOURS,
                      max_distance=max_distance)
    lock(conn)
    rows = conn.execute(_STATE + " ORDER BY f.id").fetchall()
    report.faces = len(rows)
    old: dict[int, int | None] = {r["id"]: r["person_id"] for r in rows}
    # Faces stored since the searches count as frozen: they keep the person they were given.
    frozen = {r["id"] for r in rows if r["frozen"] or r["id"] not in known}
    free = [r["id"] for r in rows if r["id"] not in frozen]
    report.frozen = len(frozen)
    # Faces freed meanwhile (a person unnamed) get their search now; every list gets today's persons.
    near.update(neighbours(conn, [f for f in free if f not in near], k=RECLUSTER_NEIGHBOURS,
                           max_distance=max_distance))
    assigned_by = {r["id"]: r["assigned_by"] for r in rows}
    near = {f: [Neighbour(n.face_id, old[n.face_id], assigned_by[n.face_id], n.distance)
                for n in near[f] if n.face_id in old] for f in free}
    core = [f for f in free if len(near[f]) + 1 >= min_faces]
    is_core = set(core)

    # DBSCAN over the free faces, its clusters being the connected components of core faces. A link
    # found from either side is enough (union-find), which matters because each face sees only its
    # k nearest: in a burst of near-identical shots a face's k nearest are all from the burst, and
    # only faces outside it see the link. Frozen faces count for density and vote for their person,
    # but are never relabelled nor linked through.
    parent = {f: f for f in core}

    def root(face_id: int) -> int:
        while parent[face_id] != face_id:
            parent[face_id] = parent[parent[face_id]]
            face_id = parent[face_id]
        return face_id

    for face_id in core:
        for n in near[face_id]:
            if n.face_id in is_core:
                a, b = root(face_id), root(n.face_id)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    cluster_of_root: dict[int, int] = {}
    label: dict[int, int] = {}
    for face_id in core:
        label[face_id] = cluster_of_root.setdefault(root(face_id), len(cluster_of_root))
    votes: list[Counter[int]] = [Counter() for _ in cluster_of_root]
    for face_id in core:
        for n in near[face_id]:
            if n.face_id in frozen and n.person_id is not None:
                votes[label[face_id]][n.person_id] += 1
    # Border faces (free, not core) join the cluster of their nearest core face, seen from either side.
    border: dict[int, tuple[float, int]] = {}

    def offer(face_id: int, distance: float, cluster: int) -> None:
        border[face_id] = min(border.get(face_id, (math.inf, 0)), (distance, cluster))

    for face_id in free:
        for n in near[face_id]:
            if face_id in is_core and n.face_id in near and n.face_id not in is_core:
                offer(n.face_id, n.distance, label[face_id])
            elif face_id not in is_core and n.face_id in is_core:
                offer(face_id, n.distance, label[n.face_id])
    for face_id, (_distance, cluster) in border.items():
        label[face_id] = cluster
    report.clusters = len(votes)

    # Clusters to persons: frozen persons they touch first, then the unnamed person they overlap most.
    target: dict[int, int] = {}
    for cluster, counter in enumerate(votes):
        if counter:
            target[cluster] = _top(counter)
            report.joined_frozen += 1
    overlap: Counter[tuple[int, int]] = Counter()
    for f, cluster in label.items():
        previous = old[f]
        if previous is not None and cluster not in target:
            overlap[(cluster, previous)] += 1
    claimed: set[int] = set()
    for (cluster, person), _count in sorted(overlap.items(), key=lambda item: (-item[1], item[0])):
        if cluster not in target and person not in claimed:
            target[cluster] = person
            claimed.add(person)
            report.persons_kept += 1
    for cluster in range(len(votes)):
        if cluster not in target:
            target[cluster] = _new_person(conn)
            report.persons_created += 1

    new: dict[int, int | None] = {}
    for face_id in free:
        if face_id in label:
            new[face_id] = target[label[face_id]]
        else:  # noise for DBSCAN, but a border face of a frozen person joins it, as incrementally
            frozen_near = [n for n in near[face_id] if n.face_id in frozen and n.person_id is not None]
            new[face_id] = _vote(frozen_near)
            report.joined_frozen += new[face_id] is not None
    changed = [(f, p) for f, p in new.items() if p != old[f]]
    report.changed = len(changed)
    for start in range(0, len(changed), 1000):
        chunk = changed[start:start + 1000]
        conn.execute(
            """UPDATE face SET person_id = v.person_id, assigned_by = 'auto'
               FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, person_id) WHERE face.id = v.id""",
            ([f for f, _ in chunk], [p for _, p in chunk]),
        )
    report.assigned = sum(p is not None for p in new.values())
    report.unassigned = len(new) - report.assigned
    report.persons_deleted = delete_empty_persons(conn)
    report.seconds = round(time.monotonic() - started, 3)
    log.info("re-cluster: %s", report.as_dict())
    return report


def _top(counter: Counter[int]) -> int:
    best = max(counter.values())
    return min(p for p, c in counter.items() if c == best)


# --- user operations -----------------------------------------------------------------------------------


def list_persons(conn: Connection, *, include_hidden: bool = False) -> list[Person]:
    """Persons with their face counts, most faces first; the cover is the face detected most surely."""
    rows = conn.execute(
        """
        SELECT p.id, p.name, p.hidden, count(f.id) AS face_count,
               (SELECT c.id FROM face c WHERE c.person_id = p.id
                ORDER BY c.score DESC NULLS LAST, c.id LIMIT 1) AS cover_face_id
        FROM person p LEFT JOIN face f ON f.person_id = p.id
        WHERE %s OR NOT p.hidden
        GROUP BY p.id
        ORDER BY count(f.id) DESC, p.id
        """,
        (include_hidden,),
    ).fetchall()
    return [Person(r["id"], r["name"], r["hidden"], int(r["face_count"]), r["cover_face_id"]) for r in rows]


def get_person(conn: Connection, person_id: int) -> Person:
    for person in list_persons(conn, include_hidden=True):
        if person.id == person_id:
            return person
    raise PersonNotFound(f"no person {person_id}")


def person_faces(conn: Connection, person_id: int) -> list[int]:
    """Face ids of a person, oldest first."""
    rows = conn.execute("SELECT id FROM face WHERE person_id = %s ORDER BY id", (person_id,))
    return [int(r["id"]) for r in rows]


def name_person(conn: Connection, person_id: int, name: str) -> None:
    """Name (or, with ``""``, unname) a person. A named person's faces are kept by a re-cluster."""
    lock(conn)
    _update_person(conn, person_id, "name", name.strip())


def hide_person(conn: Connection, person_id: int, hidden: bool = True) -> None:
    """Hide a person from people lists (its faces stay, and keep joining it)."""
    lock(conn)
    _update_person(conn, person_id, "hidden", hidden)


def _update_person(conn: Connection, person_id: int, column: str, value: object) -> None:
    statements = {
        "name": "UPDATE person SET name = %s, updated_at = now() WHERE id = %s",
        "hidden": "UPDATE person SET hidden = %s, updated_at = now() WHERE id = %s",
    }
    if conn.execute(statements[column], (value, person_id)).rowcount == 0:
        raise PersonNotFound(f"no person {person_id}")


def merge_persons(conn: Connection, target_id: int, source_ids: Sequence[int]) -> int:
    """Move every face of the sources into the target and delete the sources; returns faces moved.
    An unnamed target takes the first source name; hidden stays as the target has it."""
    lock(conn)
    sources = [s for s in dict.fromkeys(source_ids) if s != target_id]
    persons = {r["id"]: r for r in conn.execute("SELECT id, name FROM person WHERE id = ANY(%s)",
                                                  ([target_id, *sources],))}
    missing = [p for p in [target_id, *sources] if p not in persons]
    if missing:
        raise PersonNotFound(f"no person {missing[0]}")
    moved = conn.execute("UPDATE face SET person_id = %s, assigned_by = 'user' WHERE person_id = ANY(%s)",
                         (target_id, sources)).rowcount
    # The target's own faces are now confirmed by the user as well: a re-cluster keeps them together.
    conn.execute("UPDATE face SET assigned_by = 'user' WHERE person_id = %s", (target_id,))
    if not persons[target_id]["name"]:
        names = [persons[s]["name"] for s in sources if persons[s]["name"]]
        if names:
            conn.execute("UPDATE person SET name = %s WHERE id = %s", (names[0], target_id))
    conn.execute("UPDATE person SET updated_at = now() WHERE id = %s", (target_id,))
    conn.execute("DELETE FROM person WHERE id = ANY(%s)", (sources,))
    return moved


def split_faces(conn: Connection, face_ids: Sequence[int], *, name: str = "") -> int:
    """Move the given faces into a new person (optionally named); returns its id."""
    lock(conn)
    previous = _require_faces(conn, face_ids)
    person = _new_person(conn, name.strip())
    _set_person(conn, face_ids, person, by="user")
    delete_empty_persons(conn, previous)
    return person


def move_faces(conn: Connection, face_ids: Sequence[int], person_id: int | None) -> None:
    """Put faces into a person by hand, or take them out of any (``None``); a re-cluster keeps this."""
    lock(conn)
    previous = _require_faces(conn, face_ids)
    exists = person_id is None or conn.execute("SELECT 1 FROM person WHERE id = %s", (person_id,)).fetchone()
    if not exists:
        raise PersonNotFound(f"no person {person_id}")
    _set_person(conn, face_ids, person_id, by="user")
    delete_empty_persons(conn, previous)


def _require_faces(conn: Connection, face_ids: Sequence[int]) -> list[int]:
    """Check the faces exist; returns the persons they are in now."""
    if not face_ids:
        raise ValueError("no faces given")
    rows = conn.execute("SELECT id, person_id FROM face WHERE id = ANY(%s)", (list(face_ids),)).fetchall()
    missing = sorted(set(face_ids) - {r["id"] for r in rows})
    if missing:
        raise LookupError(f"no face {missing[0]}")
    return sorted({r["person_id"] for r in rows if r["person_id"] is not None})
