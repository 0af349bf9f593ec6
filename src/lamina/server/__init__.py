"""``lamina serve``: the REST API, the dashboard, metrics and scheduled checks.

The only package that imports FastAPI; thin over the library. Its layers, each importing only
those below it (an import-linter contract in ``.importlinter`` keeps it so)::

    runner      starts uvicorn for ``lamina serve``
    app         composes: middleware, the error mapping, every router, the scheduler
    api/        the REST API, one router per resource    pages/   the dashboard, one router per page
    scheduler   drift checks on an interval               limits   body limits, headers, timings
    auth        the caller's token, and authorize(): who may do what
    context     what routes share (settings, database, tokens, clock), found by request
    tokens, settings, metrics, guards
"""
