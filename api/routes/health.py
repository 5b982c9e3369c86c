"""Health: the one route besides login that answers without a session (load balancers, compose)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.db import Conn

public = APIRouter(prefix="/api", tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: bool


@public.get("/health", response_model=HealthOut, summary="Liveness and database reachability")
def health(conn: Conn) -> HealthOut:
    conn.execute("SELECT 1")
    return HealthOut(status="ok", database=True)
