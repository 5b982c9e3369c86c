"""A throwaway API for working on the page: `npm run dev` proxies /api here.

    .venv/bin/python web/scripts/dev_api.py [--port 8000] [--home /tmp/pava-webdev] [FILES_OR_FOLDERS...]

Starts an embedded Postgres in --home (kept between runs), migrates, ingests the given files (default:
a few folders of ../shared/corpus) into that home's storage, makes the user `admin` (password `admin`,
development only) and serves `pava api` on 127.0.0.1 without Secure cookies (plain http). No broker and
no workers: analyses stay pending unless a stack runs them. Ctrl-C stops the API; Postgres is stopped too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pava.services.postgres import PostgresCluster, free_port  # noqa: E402

DEFAULT_CORPUS = ["exif", "objects", "faces", "ocr", "speech", "neardup"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "pava-webdev")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    password_file = home / "pg-password"
    if not password_file.exists():
        password_file.write_text(os.urandom(12).hex())
    port_file = home / "pg-port"
    if not port_file.exists():
        port_file.write_text(str(free_port()))
    cluster = PostgresCluster(home / "pg", int(port_file.read_text()), password_file.read_text().strip(),
                              fast_unsafe=True)
    cluster.start()
    try:
        url = cluster.create_database("pava") if not (home / "db-made").exists() else cluster.url("pava")
        (home / "db-made").touch()
        env = {**os.environ, "PAVA_ENV": "development", "PAVA_HOME": str(home), "PAVA_DATABASE_URL": url,
               "PAVA_STORAGE_ROOT": str(home / "storage"), "PAVA_DROP_DIR": str(home / "drop"),
               "PAVA_API__COOKIE_SECURE": "false", "PAVA_API__PORT": str(args.port),
               "PAVA_API__HOST": "127.0.0.1"}
        pava = [sys.executable, "-m", "pava"]
        subprocess.run([*pava, "migrate"], env=env, cwd=ROOT, check=True)
        if not (home / "ingested").exists():
            corpus = ROOT.parent / "shared" / "corpus"
            sources = args.paths or [corpus / name for name in DEFAULT_CORPUS if (corpus / name).exists()]
            drop = home / "drop"
            for source in sources:
                target = drop / source.name
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    drop.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
            subprocess.run([*pava, "ingest", str(drop), "--source", "webdev"], env=env, cwd=ROOT, check=False)
            (home / "ingested").touch()
        users = subprocess.run([*pava, "user", "list"], env=env, cwd=ROOT, capture_output=True, text=True,
                               check=True)
        if "admin" not in users.stdout:
            subprocess.run([*pava, "user", "add", "admin", "--role", "admin", "--password-stdin"], env=env,
                           cwd=ROOT, input="admin-password\n", text=True, check=True)
        print(f"API on http://127.0.0.1:{args.port} (user admin, password admin-password);"
              " run `PAVA_API_URL=http://127.0.0.1:{args.port} npm run dev` in web/", flush=True)
        subprocess.run([*pava, "api"], env=env, cwd=ROOT, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
