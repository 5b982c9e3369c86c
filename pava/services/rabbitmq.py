"""A private RabbitMQ node (Debian's rabbitmq-server) with its own folders, ports and Erlang cookie.

Used by the local stack (standard ports) and by the test setup (free ports), started as a plain
process: no systemd here, and apt never starts services on these machines.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RabbitNode:
    """One node; ``start`` and ``stop`` are idempotent."""

    base_dir: Path
    amqp_port: int = 5672
    management_port: int = 15672
    dist_port: int = 25672
    epmd_port: int = 4369
    node_name: str = "pava@localhost"
    path_prefix: str = "/rabbitmq"
    user: str = "pava"
    password: str = ""

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "rabbitmq.pid"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "HOME": str(self.base_dir),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_CONFIG_FILE": str(self.base_dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base_dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
        })
        return env

    def amqp_url(self, vhost: str = "/") -> str:
        password, vhost = quote(self.password, safe=""), quote(vhost, safe="")
        return f"amqp://{self.user}:{password}@127.0.0.1:{self.amqp_port}/{vhost}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}{self.path_prefix}"

    def _write_config(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "log").mkdir(exist_ok=True)
        (self.base_dir / "rabbitmq.conf").write_text(
            "\n".join([
                f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
                f"management.tcp.port = {self.management_port}",
                "management.tcp.ip = 127.0.0.1",
                f"management.path_prefix = {self.path_prefix}",
                # guest may log in from loopback only (the default, stated so nobody widens it by accident).
                "loopback_users.guest = true",
                "log.console = false",
                "log.file.level = warning",
                "",
            ])
        )
        (self.base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def ctl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), *args], env=self.env(), capture_output=True,
                              text=True, check=check, timeout=timeout)

    def running(self) -> bool:
        if not self.pid_file.exists():
            return False
        try:
            os.kill(int(self.pid_file.read_text().strip()), 0)
        except (ValueError, ProcessLookupError):
            return False
        return _port_open(self.amqp_port)

    def start(self) -> None:
        if self.running():
            self._ensure_user()
            return
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self._write_config()
        # A pid file left by a node that died (or by a reboot) would be taken for the new node's below.
        self.pid_file.unlink(missing_ok=True)
        # cwd: Erlang writes crash dumps (erl_crash.dump, MnesiaCore.*) into the node's working folder;
        # they belong with the node's other files, not in whatever folder started it.
        subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env(), check=True,
                       capture_output=True, timeout=60, cwd=self.base_dir)
        # `await_startup` right after -detached fails: the node is not registered yet. Wait for the pid file.
        deadline = time.monotonic() + 60
        while not self.pid_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq did not start; see {self.base_dir / 'log'}")
            time.sleep(0.2)
        self.ctl("wait", "--timeout", "120", str(self.pid_file))
        self.ctl("await_startup", "--timeout", "120")
        self._ensure_user()
        deadline = time.monotonic() + 60
        while not _port_open(self.management_port):
            if time.monotonic() > deadline:
                raise RuntimeError("rabbitmq management did not open its port")
            time.sleep(0.2)

    def _ensure_user(self) -> None:
        if not self.password:
            raise ValueError("a RabbitMQ password is required")
        users = self.ctl("list_users", "--formatter", "json").stdout
        names = {u["user"] for u in json.loads(users)} if users.strip() else set()
        if self.user not in names:
            self.ctl("add_user", self.user, self.password)
        else:
            self.ctl("change_password", self.user, self.password)
        self.ctl("set_user_tags", self.user, "administrator")
        self.ctl("set_permissions", "-p", "/", self.user, ".*", ".*", ".*")
        if "guest" in names:
            # No default credentials: guest is removed from the nodes we run.
            self.ctl("delete_user", "guest", check=False)

    def add_vhost(self, vhost: str) -> str:
        """Create a vhost the user may use fully; returns its AMQP URL."""
        self.ctl("add_vhost", vhost, check=False)
        self.ctl("set_permissions", "-p", vhost, self.user, ".*", ".*", ".*")
        return self.amqp_url(vhost)

    def delete_vhost(self, vhost: str) -> None:
        self.ctl("delete_vhost", vhost, check=False)

    def stop(self, kill_epmd: bool = True) -> None:
        """Stop the node; also its epmd unless another Erlang node may be using it (``kill_epmd=False``)."""
        if self.pid_file.exists():
            self.ctl("stop", str(self.pid_file), check=False)
        if kill_epmd:
            subprocess.run(["epmd", "-kill"], env=self.env(), capture_output=True, check=False)

    def stop_app(self) -> None:
        """Stop the broker but not the Erlang node (simulates a broker outage)."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "120")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def management_get(self, path: str) -> object:
        """GET from the management API with the node's user."""
        request = urllib.request.Request(self.management_url + path)  # noqa: S310 (http, our own URL)
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback, our URL)
            return json.loads(response.read())


def new_password() -> str:
    """A random password; hex, so it never starts with "-" (which command lines read as an option)."""
    return secrets.token_hex(24)


