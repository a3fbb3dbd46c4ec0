"""A stand-in for OpenSSH's ``ssh`` in tests: "the remote machine" is this one.

``ssh [opts] HOST -- CMD...`` runs CMD through ``sh -c`` here, as sshd would
through the user's shell; ``ssh -N -L 127.0.0.1:L:127.0.0.1:R HOST``
forwards 127.0.0.1:L to 127.0.0.1:R until it is terminated.  Every call is
appended to $FAKE_SSH_LOG.  The host ``unreachable`` fails as ssh does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def forward(spec: str) -> None:
    bind, lport, host, rport = spec.split(":")
    assert bind == "127.0.0.1" and host == "127.0.0.1", spec
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((bind, int(lport)))
    server.listen()
    while True:
        conn, _ = server.accept()
        upstream = socket.create_connection((host, int(rport)))
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()


def main(argv: list[str]) -> int:
    with open(os.environ.get("FAKE_SSH_LOG", os.devnull), "a") as log:
        log.write(" ".join(argv) + "\n")
    if "-L" in argv:
        forward(argv[argv.index("-L") + 1])
        return 0
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    options = argv[: argv.index("--")] if "--" in argv else argv
    host = options[-1] if options else ""
    if host == "unreachable":
        print("ssh: connect to host unreachable port 22: Connection refused", file=sys.stderr)
        return 255
    return subprocess.run(["sh", "-c", " ".join(rest)]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
