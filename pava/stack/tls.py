"""The front door's certificate: a self-signed one made with openssl for this host's names, or the real
certificate and key the user names (checked before nginx is given them).

Only the standard library and the ``openssl`` command are used, so that ``ssl/make_cert.py`` runs with any
Python 3.11 on a Docker host that has no pava environment. A certificate made here is recorded in a
``cert.json`` beside it (the names asked for and the certificate's digest): a certificate without that
record was put there by someone else and is never replaced.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
RECORD_FILE = "cert.json"
# Browsers refuse server certificates valid for longer than 398 days (Safari, and Chrome for public CAs);
# a self-signed one that the user chose to trust should not trip over that.
VALID_DAYS = 397
RENEW_DAYS = 30
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)"
                       r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$")


class TlsError(RuntimeError):
    """A certificate or key that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Certificate:
    """The certificate and key nginx serves."""

    cert: Path
    key: Path
    self_signed: bool  # made by this module (browsers warn until it is trusted)
    names: tuple[str, ...]
    not_after: datetime
    sha256: str  # of the certificate file: a change means nginx must reload
    generated: bool = False  # made (or renewed) by this call

    def as_json(self) -> dict[str, object]:
        return {"cert": str(self.cert), "key": str(self.key), "self_signed": self.self_signed,
                "names": list(self.names), "not_after": self.not_after.isoformat(),
                "sha256": self.sha256}


def openssl_binary() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise TlsError("openssl is not installed (apt-get install openssl; ./pava.sh installs it)")
    return found


def _openssl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([openssl_binary(), *args], capture_output=True, text=True, check=False,
                          input=stdin if stdin is not None else "", timeout=60)


def host_names(extra: Iterable[str] = ()) -> list[str]:
    """The names a self-signed certificate covers: loopback (name and addresses), this host's short name
    and fully qualified name, then ``extra``; lower-case, without repeats, in that order."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn(), *extra]
    seen: list[str] = []
    for raw in names:
        name = raw.strip().lower().rstrip(".")
        if name and name not in seen:
            seen.append(name)
    return seen


def check_name(name: str) -> str:
    """``name`` if it is an IP address or a DNS name (so nothing odd reaches openssl's arguments)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if not _DNS_NAME.match(name):
            raise TlsError(f"{name!r} is neither a host name nor an IP address") from None
    return name


def _san(names: Sequence[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            entries.append(f"DNS:{name}")
        else:
            entries.append(f"IP:{name}")
    return ",".join(entries)


def _not_after(cert: Path) -> datetime:
    result = _openssl("x509", "-noout", "-enddate", "-in", str(cert))
    if result.returncode != 0 or not result.stdout.startswith("notAfter="):
        raise TlsError(f"{cert} is not a PEM certificate: {result.stderr.strip()}")
    seconds = ssl.cert_time_to_seconds(result.stdout.strip().removeprefix("notAfter="))
    return datetime.fromtimestamp(seconds, UTC)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid_for(cert: Path, seconds: int) -> bool:
    return _openssl("x509", "-noout", "-checkend", str(seconds), "-in", str(cert)).returncode == 0


def _cert_names(cert: Path) -> tuple[str, ...]:
    """The subjectAltName entries of ``cert`` (best effort: for display)."""
    result = _openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(cert))
    if result.returncode != 0:
        return ()
    lines = result.stdout.strip().splitlines()[1:]
    names = []
    for entry in ", ".join(line.strip() for line in lines).split(", "):
        kind, _, value = entry.partition(":")
        if kind in ("DNS", "IP Address") and value:
            names.append(value)
    return tuple(names)


def _public_key(args: Sequence[str]) -> str | None:
    result = _openssl(*args)
    return result.stdout.strip() if result.returncode == 0 and "PUBLIC KEY" in result.stdout else None


def use_given(cert: Path, key: Path) -> Certificate:
    """A certificate and key the user supplies, checked: both readable PEM, the key unencrypted (nginx
    starts unattended) and matching the certificate. An expired one is used, with a warning."""
    for path, what in ((cert, "certificate"), (key, "key")):
        if not path.is_file():
            raise TlsError(f"the TLS {what} {path} does not exist "
                           "(PAVA_STACK__TLS_CERT / PAVA_STACK__TLS_KEY)")
        if not os.access(path, os.R_OK):
            raise TlsError(f"the TLS {what} {path} is not readable by this user")
    cert_key = _public_key(["x509", "-noout", "-pubkey", "-in", str(cert)])
    if cert_key is None:
        raise TlsError(f"{cert} is not a PEM certificate")
    # -passin with an empty password: an encrypted key fails here instead of prompting on the terminal.
    key_key = _public_key(["pkey", "-pubout", "-passin", "pass:", "-in", str(key)])
    if key_key is None:
        raise TlsError(f"{key} is not an unencrypted PEM private key "
                       "(nginx needs one it can read unattended)")
    if cert_key != key_key:
        raise TlsError(f"the key {key} does not belong to the certificate {cert}")
    not_after = _not_after(cert)
    if not _valid_for(cert, 0):
        log.warning("the TLS certificate %s expired on %s", cert, not_after.date())
    return Certificate(cert=cert.resolve(), key=key.resolve(), self_signed=False, names=_cert_names(cert),
                       not_after=not_after, sha256=_sha256(cert))


def _record(directory: Path) -> dict[str, object] | None:
    try:
        data = json.loads((directory / RECORD_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def ensure_self_signed(directory: Path, names: Sequence[str], *, days: int = VALID_DAYS,
                       renew_days: int = RENEW_DAYS) -> Certificate:
    """The self-signed certificate in ``directory`` for ``names``: kept when it is there, was made here
    for the same names and stays valid for ``renew_days`` more; made anew otherwise (ECDSA P-256, the key
    0600 in a 0700 folder). A certificate there that this module did not make is refused, not replaced."""
    names = [check_name(n) for n in names]
    if not names:
        raise TlsError("a certificate needs at least one name")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    record = _record(directory)
    if cert.exists() and record is None:
        raise TlsError(f"{cert} was not made by pava: name it with PAVA_STACK__TLS_CERT and "
                       "PAVA_STACK__TLS_KEY (ssl/make_cert.py: --keep-given) to use it, or move it away to "
                       "get a self-signed one")
    if (cert.exists() and key.exists() and record is not None and record.get("names") == names
            and record.get("sha256") == _sha256(cert) and _valid_for(cert, renew_days * 86400)):
        return Certificate(cert=cert.resolve(), key=key.resolve(), self_signed=True, names=tuple(names),
                           not_after=_not_after(cert), sha256=_sha256(cert))

    new_cert, new_key = directory / f".{CERT_FILE}.new", directory / f".{KEY_FILE}.new"
    result = subprocess.run(
        [openssl_binary(), "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-sha256", "-days", str(days), "-subj", f"/O=pava/CN={names[0]}",
         "-keyout", str(new_key), "-out", str(new_cert),
         "-addext", f"subjectAltName={_san(names)}",
         # A leaf, not a CA: trusting it in a browser must not let it vouch for other sites.
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "keyUsage=critical,digitalSignature",
         "-addext", "extendedKeyUsage=serverAuth"],
        capture_output=True, text=True, check=False, timeout=60, stdin=subprocess.DEVNULL,
        umask=0o077,  # the key file is created private, never readable by others even briefly
    )
    if result.returncode != 0:
        new_cert.unlink(missing_ok=True)
        new_key.unlink(missing_ok=True)
        raise TlsError(f"openssl could not make a certificate: {result.stderr.strip()}")
    new_key.chmod(0o600)
    new_cert.chmod(0o644)  # public: clients that are told to trust it need to read it
    # The record first: a crash before the files are in place leaves a record that matches no
    # certificate (made anew next time), never a certificate without its record (refused as foreign).
    (directory / RECORD_FILE).write_text(json.dumps({"names": names, "sha256": _sha256(new_cert)}) + "\n")
    new_key.replace(key)
    new_cert.replace(cert)
    log.info("made a self-signed certificate for %s in %s", ", ".join(names), directory)
    return Certificate(cert=cert.resolve(), key=key.resolve(), self_signed=True, names=tuple(names),
                       not_after=_not_after(cert), sha256=_sha256(cert), generated=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``ssl/make_cert.py``: make (or keep) a self-signed certificate, or check a given one."""
    parser = argparse.ArgumentParser(
        prog="ssl/make_cert.py",
        description="Make a self-signed certificate for this host's names (kept while valid and the names "
                    "do not change), or check a real certificate and key.")
    parser.add_argument("--out", type=Path, default=Path("var/ssl"),
                        help=f"folder for {CERT_FILE} and {KEY_FILE} (default var/ssl)")
    parser.add_argument("--name", action="append", default=[],
                        help="another name or address the certificate must cover (repeatable)")
    parser.add_argument("--only", action="store_true",
                        help="only the --name values, not localhost and this host's names")
    parser.add_argument("--check", nargs=2, metavar=("CERT", "KEY"), type=Path,
                        help="check that a real certificate and key can be used, and make nothing")
    parser.add_argument("--keep-given", action="store_true",
                        help=f"when --out holds a {CERT_FILE} and {KEY_FILE} not made here (a real "
                             "certificate), check and keep them instead of refusing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            found = use_given(args.check[0], args.check[1])
        elif args.keep_given and (args.out / CERT_FILE).exists() and _record(args.out) is None:
            found = use_given(args.out / CERT_FILE, args.out / KEY_FILE)
        else:
            names = host_names(args.name) if not args.only else list(dict.fromkeys(
                n.strip().lower() for n in args.name if n.strip()))
            found = ensure_self_signed(args.out, names)
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(found.as_json() | {"generated": found.generated}, indent=2))
    return 0
