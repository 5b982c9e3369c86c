#!/usr/bin/env python3
"""Make the front door's TLS certificate: self-signed for this host's names, into var/ssl/ by default.

    python3 ssl/make_cert.py [--out DIR] [--name photos.example.org]...   make or keep a self-signed one
    python3 ssl/make_cert.py --check CERT KEY                             check a real certificate and key

A certificate made here is kept while it stays valid for 30 more days and the names do not change; it is
made anew otherwise. `pava up` does the same by itself (PAVA_STACK__SERVER_NAMES adds names) unless
PAVA_STACK__TLS_CERT and PAVA_STACK__TLS_KEY name a real certificate and key. Needs only Python 3.11 and
the openssl command (the logic lives in pava/stack/tls.py, which imports nothing outside the standard
library), so it also serves a Docker host without the pava environment.
"""

import sys
from pathlib import Path

# Run as a script, the checkout is not on the path (and `ssl/` itself must never be, or it would shadow the
# standard library's ssl module).
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from pava.stack.tls import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
