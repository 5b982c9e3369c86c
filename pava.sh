#!/usr/bin/env bash
# pava bootstrap: on a fresh Debian 12 / Ubuntu machine it installs what is missing (system packages with
# apt, the project's .venv), then runs the pava command line from that venv. Every run checks; only what is
# missing is installed, so after the first run it costs a fraction of a second.
# (Named pava.sh because the Python package `pava/` occupies the name `pava` at the repository root.)
#
#   ./pava.sh up                  start the local stack (see README.md)
#   ./pava.sh test [pytest args]  run the whole test suite
#   ./pava.sh check               ruff and mypy
#   ./pava.sh COMMAND ...         any other pava command (./pava.sh --help)
#
# Environment: PAVA_PYTHON (interpreter for the venv; default python3.11, else python3 if 3.11 or newer),
# PAVA_NO_APT=1 (never call apt: for a machine set up by hand, or without root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.pava-requirements.sha256"

# Debian package -> how to tell it is there (a command, or a file for data-only packages).
declare -A PROBE=(
  [rabbitmq-server]="file:/usr/lib/rabbitmq/bin/rabbitmq-server"
  [ffmpeg]="cmd:ffprobe"
  [libimage-exiftool-perl]="cmd:exiftool"
  [tesseract-ocr]="cmd:tesseract"
  [tesseract-ocr-eng]="glob:/usr/share/tesseract-ocr/*/tessdata/eng.traineddata"
  [tesseract-ocr-osd]="glob:/usr/share/tesseract-ocr/*/tessdata/osd.traineddata"
  [nginx]="file:/usr/sbin/nginx"
  [openssl]="cmd:openssl"
  [curl]="cmd:curl"
  [nodejs]="cmd:node"
  [npm]="cmd:npm"
  [chromium]="file:/usr/bin/chromium"
)
APT_ORDER=(rabbitmq-server ffmpeg libimage-exiftool-perl tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
           nginx openssl curl nodejs npm)
# Only the tests need a browser (the web page's end-to-end tests drive Debian's Chromium).
TEST_ONLY=(chromium)

say() { printf 'pava: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

present() {
  local kind="${1%%:*}" what="${1#*:}"
  case "$kind" in
    cmd) command -v "$what" >/dev/null 2>&1 || [[ -x "/usr/sbin/$what" ]] ;;
    file) [[ -e "$what" ]] ;;
    glob) compgen -G "$what" >/dev/null ;;
    *) return 1 ;;
  esac
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $* (or install those packages yourself and set PAVA_NO_APT=1)"
  fi
}

apt_install() {
  say "installing with apt: $*"
  # apt never starts services on these machines, and pava runs its own RabbitMQ node anyway.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$@" >/dev/null
}

pick_python() {
  local candidate
  for candidate in ${PAVA_PYTHON:-} python3.11 python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_system() {
  local missing=() pkg python wanted=("${APT_ORDER[@]}")
  [[ "${1:-}" == test ]] && wanted+=("${TEST_ONLY[@]}")
  for pkg in "${wanted[@]}"; do
    present "${PROBE[$pkg]}" || missing+=("$pkg")
  done
  if [[ ! -x "$VENV/bin/python" ]]; then
    if ! python="$(pick_python)"; then
      missing+=(python3 python3-venv)
    elif ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
      missing+=(python3-venv)  # Debian ships ensurepip apart from the interpreter
    fi
  fi
  ((${#missing[@]} == 0)) && return 0
  if [[ "${PAVA_NO_APT:-}" == 1 ]]; then
    say "missing (PAVA_NO_APT=1, so not installing): ${missing[*]}"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing: ${missing[*]}; install them (no apt-get on this machine)"
  apt_install "${missing[@]}"
}

requirements_hash() {
  # A change to any requirements file, to pyproject.toml (entry points) or to the interpreter reinstalls.
  {
    cat "$ROOT"/requirements/*.txt "$ROOT/pyproject.toml"
    "$1" -c 'import sys; print(sys.version, sys.base_prefix)'
  } | sha256sum | cut -d' ' -f1
}

venv_current() {
  [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c '' 2>/dev/null && [[ -f "$STAMP" ]] &&
    [[ "$(cat "$STAMP")" == "$(requirements_hash "$VENV/bin/python")" ]]
}

ensure_venv() {
  local python
  venv_current && return 0
  python="$(pick_python)" || die "no Python 3.11 or newer found (set PAVA_PYTHON)"
  # Two bootstraps at once (two terminals, parallel CI steps) must not build the same venv together:
  # hold a lock on this script while installing, and look again once it is ours.
  exec 9<"${BASH_SOURCE[0]}"
  flock 9
  if ! venv_current; then
    if ! { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c '' 2>/dev/null; }; then
      say "creating $VENV with $python"
      rm -rf "$VENV"
      "$python" -m venv "$VENV"
    fi
    say "installing Python packages from requirements/dev.txt (first run, or the requirements changed)"
    # pip keeps the machine's own configuration (extra indexes, find-links): nothing here overrides it.
    "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q \
      -r "$ROOT/requirements/dev.txt" -c "$ROOT/requirements/constraints.txt"
    # Packages whose declared dependencies must not be installed (see the comments in the files named
    # there) go in requirements/dev-nodeps.txt: pip cannot say --no-deps for one line of a file.
    if [[ -f "$ROOT/requirements/dev-nodeps.txt" ]]; then
      "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q --no-deps \
        -r "$ROOT/requirements/dev-nodeps.txt" -c "$ROOT/requirements/constraints.txt"
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$ROOT"
    requirements_hash "$VENV/bin/python" >"$STAMP"
  fi
  exec 9<&-
}

ensure_system "${1:-}"
ensure_venv

case "${1:-}" in
  test)
    shift
    cd "$ROOT"
    set +e
    "$VENV/bin/python" -m pytest "$@"
    rc=$?
    set -e
    if ((rc == 5)); then
      say "pytest collected no tests: counted as a failure"
      exit 1
    fi
    exit "$rc"
    ;;
  check)
    shift
    cd "$ROOT"
    "$VENV/bin/ruff" check "$@" .
    exec "$VENV/bin/mypy"
    ;;
  *)
    exec "$VENV/bin/pava" "$@"
    ;;
esac
