"""Loopback ports for tests that run side by side (pytest-xdist workers, other test runs).

Picking a free port, closing it and handing the number on is a race: another process can take
the port in between. So a server in this process gets a socket that is already bound
(:func:`bound_socket`), a port that must refuse connections stays bound without listening
(:func:`refusing_port`), and only a child process that binds by itself gets a bare number
(:func:`free_port`), with a way to check the child is the one that got it (:func:`listens`).
"""

from __future__ import annotations

import atexit
import os
import socket
from pathlib import Path

_reserved: list[socket.socket] = []  # refusing ports, held until the test process exits


@atexit.register
def _release() -> None:
    for sock in _reserved:
        sock.close()


def bound_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, not yet listening: give it to the server.

    uvicorn takes it as ``Server.run(sockets=[sock])`` and listens on it; the port is never free
    in between, so no other process can take it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


def refusing_port() -> int:
    """A 127.0.0.1 port where connections are refused, for as long as the test process runs.

    The port stays bound and never listens: nothing can accept on it, and no other process can
    bind it meanwhile (it would get "address in use").
    """
    sock = bound_socket()
    _reserved.append(sock)
    return port_of(sock)


def free_port() -> int:
    """A 127.0.0.1 port that was free a moment ago, for a child process to bind by itself.

    Another process may take it first: the caller must notice (the child exits, or
    :func:`listens` says it is not the child's) and try again with a new one.
    """
    with bound_socket() as sock:
        return port_of(sock)


def listens(pid: int, port: int) -> bool:
    """Whether process pid holds a TCP socket listening on port (read from Linux's /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(f"socket:[{inode}]")
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process is gone
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) in inodes:
                return True
        except OSError:  # closed meanwhile
            continue
    return False
