"""Users, their sessions and login attempts (the API's authentication lives in Postgres, not MongoDB).

Revision ID: 0005_users
Revises: 0004_text
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005_users"
down_revision = "0004_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Names compare case-insensitively (the unique index on lower(name)); the password is an argon2id
    # hash in PHC form, never the password. Roles: admin (everything, users, the RabbitMQ console),
    # editor (comments, edits, albums, people), viewer (read only).
    op.execute(
        """
        CREATE TABLE app_user (
            id              bigserial PRIMARY KEY,
            name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
            password_hash   text NOT NULL,
            role            text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
            disabled        boolean NOT NULL DEFAULT false,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            last_login_at   timestamptz
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX app_user_name ON app_user (lower(name))")
    # A session is an opaque random token held by the client; only its keyed hash is stored, so a copy
    # of this table lets nobody log in. Revoked or expired rows stay until the sweep deletes them.
    op.execute(
        """
        CREATE TABLE user_session (
            id              bigserial PRIMARY KEY,
            user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
            token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
            created_at      timestamptz NOT NULL DEFAULT now(),
            expires_at      timestamptz NOT NULL,
            last_seen_at    timestamptz NOT NULL DEFAULT now(),
            revoked_at      timestamptz,
            user_agent      text NOT NULL DEFAULT '',
            ip              text NOT NULL DEFAULT ''
        )
        """
    )
    op.execute("CREATE INDEX user_session_user ON user_session (user_id) WHERE revoked_at IS NULL")
    op.execute("CREATE INDEX user_session_expires ON user_session (expires_at)")
    # Failed and successful logins, for rate limiting by name and by address across every API process.
    op.execute(
        """
        CREATE TABLE login_attempt (
            id              bigserial PRIMARY KEY,
            name            text NOT NULL,
            ip              text NOT NULL,
            success         boolean NOT NULL,
            at              timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX login_attempt_name ON login_attempt (lower(name), at) WHERE NOT success")
    op.execute("CREATE INDEX login_attempt_ip ON login_attempt (ip, at) WHERE NOT success")
    op.execute("CREATE INDEX login_attempt_at ON login_attempt (at)")


def downgrade() -> None:
    for table in ("login_attempt", "user_session", "app_user"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
