"""The dashboard: server-rendered pages over the library, for people with a browser.

One module per page family, each with a module-level ``router`` (kept out of /openapi.json);
:mod:`lamina.server.pages.rendering` holds what they share: the templates, the status tables,
the page frame and the forms' CSRF tokens. Pages read the same library calls as the API and
the CLI; nothing here decides policy: roles are :func:`lamina.server.auth.authorize`, asked
before a button is shown and again when its form comes back.
"""
