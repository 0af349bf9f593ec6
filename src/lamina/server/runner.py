"""Starting the server process (uvicorn) for ``lamina serve``."""

from __future__ import annotations

from lamina.server.settings import ServerSettings


def run(settings: ServerSettings, host: str, port: int) -> None:
    """Serve until interrupted."""
    import uvicorn

    from lamina.server.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
