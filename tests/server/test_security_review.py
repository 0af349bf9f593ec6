"""The server's security review (docs/security.md), claim by claim.

Claims already proven elsewhere are named in the review, not repeated here: this file adds
what was missing. A test marked ``xfail(strict=True, reason="bug: ...")`` proves a weakness
the review lists; when the bug is fixed the test passes, strict xfail turns that into a
failure, and the marker (and the review) must be updated.
"""

from __future__ import annotations

import ast
import hashlib
import http.client
import inspect
import json
import os
import re
import secrets
import select
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families

from cli_support import start_lamina_serve
from conftest import git
from lamina.promote import gates
from lamina.server import auth, tokens
from lamina.server.app import create_app
from lamina.server.pages import rendering
from lamina.server.settings import ServerSettings

from .conftest import running

USERS = {
    "viewer": ("vera@example.com", ["viewer"]),
    "editor": ("ed@example.com", ["editor"]),
    "approver": ("ana@example.com", ["approver:production"]),
    "admin": ("root@example.com", ["admin"]),
}
OPEN_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    # the sign-in page, its two static files and the API description cannot need a sign-in
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static/{name}"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    # the push webhook is signed with [git] webhook_secret_env, not a token (tests/server/test_git_sync.py)
    ("POST", "/api/v1/hooks/git"),
}
SAMPLE = {
    "environment": "production",
    "cluster": "prod-us-1",
    "request_id": "1",
    "rollout_id": "1",
    "name": "lamina.css",
}
NEEDED_QUERY = {"/api/v1/targets/{environment}/{cluster}/explain": "?key=agent.model"}
CANARY = "CanaryValue-7f3e9b"


@dataclass
class Site:
    """The API and dashboard of one repository, served by uvicorn, and a token per role."""

    app: FastAPI
    client: httpx.Client
    root: Path
    port: int
    token: dict[str, str]

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token[role]}"}

    def cookie(self, role: str) -> dict[str, str]:
        return {"Cookie": f"{auth.COOKIE}={self.token[role]}"}

    def raw(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str]:
        """A request whose target is sent exactly as written (httpx would normalize dot segments)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, target, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()


@contextmanager
def serving(settings: ServerSettings) -> Iterator[tuple[FastAPI, int]]:
    """create_app's application on a free port, for as long as the block runs."""
    app = create_app(settings)
    with running(app) as port:
        yield app, port


def add_roleless_token(path: Path, user: str) -> str:
    """A token whose entry has no roles (``lamina token create`` refuses to make one)."""
    token = "lam_" + secrets.token_urlsafe(32)
    sha = hashlib.sha256(token.encode()).hexdigest()
    with path.open("a") as handle:
        handle.write(f'\n[[tokens]]\nsha256 = "{sha}"\nuser = "{user}"\nroles = []\n')
    return token


def no_scheduled_checks(root: Path) -> None:
    with (root / "lamina.toml").open("a") as fleet:
        fleet.write('\n[drift]\ninterval = "0"   # no scheduled checks: tests run them on purpose\n')


@pytest.fixture
def site(example_repo: Path) -> Iterator[Site]:
    no_scheduled_checks(example_repo)
    path = example_repo / ".lamina" / "tokens.toml"
    issued = {role: tokens.create(path, user, roles) for role, (user, roles) in USERS.items()}
    issued["nobody"] = add_roleless_token(path, "nobody@example.com")
    settings = ServerSettings(repo_root=example_repo, tokens_file=path)
    with (
        serving(settings) as (app, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        yield Site(app, client, example_repo, port, issued)


def commit(root: Path, message: str) -> None:
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def change_base(root: Path, extra_fleet_toml: str = "") -> None:
    """A committed change to base/ (something to promote), with extra lamina.toml text."""
    if extra_fleet_toml:
        with (root / "lamina.toml").open("a") as fleet:
            fleet.write("\n" + extra_fleet_toml + "\n")
    prompt = root / "base" / "prompts" / "system_prompt.txt"
    prompt.write_text(prompt.read_text() + "Always greet the customer by name.\n")
    commit(root, "base: greet by name")


def request_promotion(site: Site, reason: str = "greet by name") -> dict[str, Any]:
    body = {"source": "development", "target": "staging", "reason": reason}
    response = site.client.post("/api/v1/promotions", json=body, headers=site.bearer("editor"))
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def check_results(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [gate for gate in record["gates"] if gate["name"].startswith("check: ")]


def http_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path template, route) of every HTTP route, inside included routers too (FastAPI
    versions differ: some flatten included routers into app.routes, some keep them nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            yield from http_routes(list(nested.routes), inner)
            continue
        methods, path = getattr(route, "methods", None), getattr(route, "path", None)
        if not methods or not isinstance(path, str):
            raise AssertionError(f"a route this review does not know how to walk: {route!r}")
        yield prefix + path, route


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route of the application."""
    return [(method, path) for path, route in http_routes(app.routes) for method in sorted(route.methods)]


def concrete(template: str, values: dict[str, str]) -> str:
    return template.format(**values) + NEEDED_QUERY.get(template, "")


def refused(response: httpx.Response) -> bool:
    """401/403 from the API, or the dashboard's redirect to its sign-in page."""
    if response.status_code in (401, 403):
        return True
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


# --- no endpoint without authentication, except the open ones -------------------------------


def test_the_open_routes_exist_and_answer_without_a_token(site: Site) -> None:
    assert set(every_route(site.app)) >= OPEN_ROUTES
    for path in ("/healthz", "/readyz", "/metrics", "/login", "/static/lamina.css", "/openapi.json"):
        assert site.client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer lam_not-a-real-token"}, id="unknown-bearer"),
        pytest.param({"Authorization": "Basic dmVyYTpwYXNzd29yZA=="}, id="basic-scheme"),
        pytest.param({"Cookie": f"{auth.COOKIE}=lam_not-a-real-token"}, id="unknown-cookie"),
    ],
)
def test_every_other_route_refuses_a_caller_without_a_valid_token(
    site: Site, credentials: dict[str, str]
) -> None:
    answered = []
    for method, template in every_route(site.app):
        if (method, template) in OPEN_ROUTES:
            continue
        response = site.client.request(method, concrete(template, SAMPLE), headers=credentials)
        if not refused(response):
            answered.append(f"{method} {template}: {response.status_code}")
    assert answered == []


def test_a_token_without_roles_reads_nothing_and_decides_nothing(site: Site) -> None:
    change_base(site.root)
    record = request_promotion(site)
    values = {**SAMPLE, "request_id": str(record["id"]).removeprefix("PR-")}
    answered = []
    for method, template in every_route(site.app):
        if (method, template) in OPEN_ROUTES:
            continue
        target = concrete(template, values)
        for headers in (site.bearer("nobody"), site.cookie("nobody")):
            response = site.client.request(method, target, headers=headers)
            if not refused(response):
                answered.append(f"{method} {template}: {response.status_code}")
    assert answered == []
    shown = site.client.get(f"/api/v1/promotions/{record['id']}", headers=site.bearer("viewer"))
    assert shown.json()["status"] == "testing"


# --- /metrics carries no config values -------------------------------------------------------


def test_metrics_carry_no_config_value_and_no_request_text(site: Site) -> None:
    agent = site.root / "base" / "agent.toml"
    text = re.sub(
        r"(?m)^description\s*=.*$", f'description = "{CANARY} in a config value"', agent.read_text()
    )
    agent.write_text(text)
    prompt = site.root / "base" / "prompts" / "system_prompt.txt"
    prompt.write_text(prompt.read_text() + f"The internal escalation code is {CANARY}.\n")
    commit(site.root, "base: a canary in the config")
    config = site.client.get("/api/v1/targets/production/prod-us-1/config", headers=site.bearer("viewer"))
    assert CANARY in config.text  # the canary really is part of the served config
    assert site.client.post("/api/v1/drift/run", headers=site.bearer("editor")).status_code == 200
    request_promotion(site, reason=f"carries {CANARY}")
    site.client.get(f"/api/v1/environments?note={CANARY}", headers=site.bearer("viewer"))
    site.client.get(f"/no-such-page-{CANARY}")
    site.client.get(
        f"/api/v1/targets/production/prod-us-1/explain?key=agent.{CANARY}", headers=site.bearer("viewer")
    )

    exposition = site.client.get("/metrics").text
    assert CANARY.lower() not in exposition.lower()
    samples = [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]
    series = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    # the exposition does carry the fleet's state, so the absence above means something
    drift = ("cluster", "prod-us-1"), ("environment", "production"), ("status", "missing")
    assert series[("lamina_drift_status", drift)] == 1.0
    assert series[("lamina_promotions", (("status", "testing"),))] == 1.0
    labels: dict[str, set[str]] = {}
    for sample in samples:
        for name, value in sample.labels.items():
            labels.setdefault(name, set()).add(value)
    assert set(labels) <= {"environment", "cluster", "status", "result", "method", "route", "le"}
    assert labels["route"] <= {path for _, path in every_route(site.app)} | {"unmatched"}
    assert labels["environment"] == {"development", "staging", "production", "production-eu"}
    assert labels["cluster"] == {"local-dev", "staging-us-1", "prod-us-1", "prod-us-2", "prod-eu-1"}


# --- no path parameter reaches the file system ------------------------------------------------

HOSTILE = [
    pytest.param("..", id="dot-dot"),
    pytest.param("%2e%2e", id="encoded-dot-dot"),
    pytest.param("%2E%2e", id="mixed-case-encoded-dot-dot"),
    pytest.param(".%2e", id="half-encoded-dot-dot"),
    pytest.param("%252e%252e", id="double-encoded-dot-dot"),
    pytest.param("..%2f..%2foutside.toml", id="encoded-slash-traversal"),
    pytest.param("%2e%2e%2foutside", id="fully-encoded-traversal"),
    pytest.param("%2fetc%2fpasswd", id="encoded-absolute-path"),
    pytest.param("..%5c..%5coutside.toml", id="backslash-traversal"),
    pytest.param("%00", id="nul"),
    pytest.param("production%00.toml", id="nul-suffix"),
    pytest.param("~root", id="tilde"),
    pytest.param("PRODUCTION", id="upper-case"),
    pytest.param("-production", id="leading-dash"),
    pytest.param("producti%C3%B6n", id="non-ascii"),
    pytest.param("a" * 64, id="64-characters"),
    pytest.param("a" * 10_000, id="10000-characters"),
]


@pytest.fixture
def outside_file(example_repo: Path) -> Path:
    """A file right next to the repository that no request may ever read."""
    path = example_repo.parent / "outside.toml"
    path.write_text(f'[fleet]\nname = "{CANARY}"\n')
    return path


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_path_parameter_is_refused_everywhere(site: Site, outside_file: Path, value: str) -> None:
    wrong = []
    for method, template in every_route(site.app):
        for param in re.findall(r"\{(\w+)\}", template):
            target = concrete(template, {**SAMPLE, param: value})
            headers = site.cookie("admin") if not template.startswith("/api/") else site.bearer("admin")
            status, body = site.raw(method, target, headers)
            if status not in (400, 404, 405, 422) or CANARY in body or "[fleet]" in body:
                wrong.append(f"{method} {template} ({param}): {status} {body[:100]}")
    assert wrong == []
    assert outside_file.read_text() == f'[fleet]\nname = "{CANARY}"\n'


def test_the_same_routes_answer_with_plain_names(site: Site) -> None:
    # the control for the test above: the refusals come from the values, not the routes
    # (a request or rollout id names a row this site has none of: those answer 404 either way)
    for method, template in every_route(site.app):
        if (
            method == "GET"
            and "{" in template
            and "{request_id}" not in template
            and "{rollout_id}" not in template
        ):
            headers = site.cookie("viewer") if not template.startswith("/api/") else site.bearer("viewer")
            status, body = site.raw(method, concrete(template, SAMPLE), headers)
            assert status == 200, (template, body[:300])


GUARDS = {"plain_name", "plain_target", "_id"}


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _function(module: ast.Module, name: str, first_line: int | None = None) -> Function | None:
    for node in ast.walk(module):
        if isinstance(node, Function) and node.name == name:
            lines = [node.lineno, *(d.lineno for d in node.decorator_list)]
            if first_line is None or min(lines) == first_line:
                return node
    return None


def _checked_before_use(module: ast.Module, function: Function, param: str) -> bool:
    """True when the first use of param in function is a guard: one of GUARDS, a membership
    test against an allow list, or a helper of the same module that checks it first."""
    parents = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}
    uses = sorted(
        (n for n in ast.walk(function) if isinstance(n, ast.Name) and n.id == param),
        key=lambda n: (n.lineno, n.col_offset),
    )
    if not uses:
        return True
    first = uses[0]
    parent = parents[first]
    if isinstance(parent, ast.Compare) and parent.left is first:
        return all(isinstance(op, ast.In | ast.NotIn) for op in parent.ops)
    if isinstance(parent, ast.Call) and first in parent.args and isinstance(parent.func, ast.Name):
        if parent.func.id in GUARDS:
            return True
        helper = _function(module, parent.func.id)
        if helper is not None:
            return _checked_before_use(module, helper, helper.args.args[parent.args.index(first)].arg)
    return False


def test_every_text_path_parameter_is_checked_before_anything_uses_it(site: Site) -> None:
    unchecked = []
    for path, route in http_routes(site.app.routes):
        if not isinstance(route, APIRoute):
            continue
        endpoint = route.endpoint
        module = ast.parse(Path(inspect.getsourcefile(endpoint) or "").read_text())
        function = _function(module, endpoint.__name__, inspect.getsourcelines(endpoint)[1])
        assert function is not None, path
        kinds = {field.name: field.field_info.annotation for field in route.dependant.path_params}
        for param in route.param_convertors:
            if kinds[param] is int:
                continue  # FastAPI turns it into a number (422 otherwise)
            if not _checked_before_use(module, function, param):
                unchecked.append(f"{path}: {param}")
    assert unchecked == []


BIG = "9" * 30


def test_a_huge_request_id_is_refused_cleanly(site: Site) -> None:
    csrf = rendering.csrf_token(site.token["admin"], f"decide:{BIG}")
    attempts: list[tuple[str, str, dict[str, str], dict[str, str] | None]] = [
        ("GET", f"/api/v1/promotions/{BIG}", site.bearer("viewer"), None),
        ("GET", f"/api/v1/promotions/PR-{BIG}", site.bearer("viewer"), None),
        ("GET", "/api/v1/promotions/" + "9" * 5000, site.bearer("viewer"), None),
        ("POST", f"/api/v1/promotions/{BIG}/approve", site.bearer("admin"), None),
        ("POST", f"/api/v1/promotions/{BIG}/apply", site.bearer("admin"), None),
        ("GET", f"/promotions?decided={BIG}", site.cookie("viewer"), None),
        ("POST", f"/promotions/{BIG}/approve", site.cookie("admin"), {"csrf": csrf}),
    ]
    statuses = {}
    for method, path, headers, form in attempts:
        # a fresh connection each: the server drops a connection after an unhandled error
        url = f"http://127.0.0.1:{site.port}{path}"
        response = httpx.request(method, url, headers=headers, data=form, timeout=60)
        statuses[f"{method} {path[:60]}"] = response.status_code
    assert all(status in (400, 404, 422) for status in statuses.values()), statuses


# --- request size limits ---------------------------------------------------------------------


def _status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def _post_head(path: str, length_header: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{length_header}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("path", ["/api/v1/promotions", "/login", "/api/v1/promotions/1/approve"])
def test_a_declared_oversized_body_is_refused_before_it_is_sent(site: Site, path: str) -> None:
    # 50 MB announced, 100 bytes sent: a server that waited for the body would never answer
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(_post_head(path, "Content-Length: 50000000") + b"{" * 100)
        assert _status_line(sock).startswith("HTTP/1.1 413 ")


def test_the_body_limit_is_one_megabyte_exactly(site: Site) -> None:
    limit = ServerSettings(repo_root=site.root, tokens_file=None).max_body_bytes
    assert limit == 1_000_000
    headers = {**site.bearer("editor"), "Content-Type": "application/json"}
    at_limit = site.client.post("/api/v1/promotions", content=b" " * limit, headers=headers)
    over = site.client.post("/api/v1/promotions", content=b" " * (limit + 1), headers=headers)
    assert at_limit.status_code == 422
    assert over.status_code == 413 and over.json() == {"detail": "request body too large"}


def test_a_chunked_oversized_body_is_refused(site: Site) -> None:
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", site.port), timeout=30) as sock:
        try:
            sock.sendall(_post_head("/api/v1/promotions/1/approve", "Transfer-Encoding: chunked"))
            for _ in range(32):  # 2 MB, twice the limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered early, as it should
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _status_line(sock).startswith("HTTP/1.1 413 ")


# --- [promotion] checks: no shell, a timeout, the repository folder ---------------------------

SHELL_LOOKALIKES = [
    ("'echo one; touch pwned-semicolon'", "one; touch pwned-semicolon\n"),
    (
        "'echo two && touch pwned-and | touch pwned-pipe > pwned-redirect'",
        "two && touch pwned-and | touch pwned-pipe > pwned-redirect\n",
    ),
    (
        "'echo $(touch pwned-subshell) `touch pwned-backtick` $HOME'",
        "$(touch pwned-subshell) `touch pwned-backtick` $HOME\n",
    ),
    (
        """["echo", "sh -c 'touch pwned-sh'; touch pwned-list"]""",
        "sh -c 'touch pwned-sh'; touch pwned-list\n",
    ),
]


def test_check_commands_are_never_given_to_a_shell(site: Site) -> None:
    commands = ",\n  ".join(toml for toml, _ in SHELL_LOOKALIKES)
    change_base(site.root, f"[promotion]\nchecks = [\n  {commands},\n]")
    record = request_promotion(site)
    results = check_results(record)
    assert [(r["status"], r["output"]) for r in results] == [("passed", out) for _, out in SHELL_LOOKALIKES]
    assert sorted(site.root.rglob("pwned-*")) == []
    assert sorted(Path.cwd().glob("pwned-*")) == []


def test_a_slow_check_is_stopped_by_its_timeout(site: Site) -> None:
    script = "import os, time; open('slow-check.pid', 'w').write(str(os.getpid())); time.sleep(60)"
    checks = json.dumps([[sys.executable, "-c", script]])
    change_base(site.root, f'[promotion]\nchecks = {checks}\ncheck_timeout = "1s"')
    started = time.monotonic()
    record = request_promotion(site)
    assert time.monotonic() - started < 30
    assert record["status"] == "failed"
    [result] = check_results(record)
    assert (result["status"], result["detail"]) == ("failed", "timed out after 0:00:01")
    pid = int((site.root / "slow-check.pid").read_text())
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie waiting for its parent counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def test_a_timed_out_check_leaves_no_process_behind(tmp_path: Path) -> None:
    argv = ["sh", "-c", "sleep 60 & echo $! > child.pid; wait"]
    outcome = gates.run_command(argv, tmp_path, {}, 1.0)
    assert outcome.returncode is None
    pid = int((tmp_path / "child.pid").read_text())
    try:
        deadline = time.monotonic() + 2
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid}, started by the check, outlived its timeout"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_checks_run_in_the_repository_folder_of_the_server(site: Site) -> None:
    script = "import json, os; print(json.dumps([os.getcwd(), os.environ['LAMINA_TARGET']]))"
    change_base(site.root, f"[promotion]\nchecks = {json.dumps([[sys.executable, '-c', script]])}")
    assert Path.cwd().resolve() != site.root.resolve()  # so the folder is chosen, not inherited
    [result] = check_results(request_promotion(site))
    assert result["status"] == "passed", result
    assert json.loads(result["output"]) == [str(site.root.resolve()), "staging"]


def test_check_commands_inherit_the_server_environment_and_their_output_is_masked(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # checks see the server's environment (docs/security.md); what they print of a variable
    # named like a credential is masked before any viewer can read it
    monkeypatch.setenv("LAMINA_REVIEW_SERVER_SECRET", CANARY)
    monkeypatch.setenv("LAMINA_REVIEW_REGION", "eu-west-7")
    script = (
        "import os; print(os.environ.get('LAMINA_REVIEW_SERVER_SECRET', 'not inherited')); "
        "print(os.environ.get('LAMINA_REVIEW_REGION', 'not inherited'))"
    )
    change_base(site.root, f"[promotion]\nchecks = {json.dumps([[sys.executable, '-c', script]])}")
    record = request_promotion(site)
    shown = site.client.get(f"/api/v1/promotions/{record['id']}", headers=site.bearer("viewer"))
    assert check_results(shown.json())[0]["output"] == "…(masked)\neu-west-7\n"
    page = site.client.get("/promotions", headers=site.cookie("viewer")).text
    assert CANARY not in page and "eu-west-7" in page


# --- tokens: hashed, owner-only, compared in constant time, revocable --------------------------


def _calls(tree: ast.AST) -> set[str]:
    return {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}


def test_tokens_are_compared_as_digests_in_constant_time() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(tokens.TokenStore.identify)))
    assert {"digest", "hmac.compare_digest"} <= _calls(tree)
    equality = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in n.ops)
    ]
    assert equality == []
    [loop] = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
    assert [n for n in ast.walk(loop) if isinstance(n, ast.Return | ast.Break)] == []  # every entry, always
    module = ast.parse(Path(inspect.getsourcefile(rendering) or "").read_text())
    forgery = _function(module, "refuse_forgery")
    assert forgery is not None and "hmac.compare_digest" in _calls(forgery)


def test_a_lookup_finds_only_the_exact_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    issued = {
        f"user{i}@example.com": tokens.create(path, f"user{i}@example.com", ["viewer"]) for i in range(20)
    }
    store = tokens.TokenStore.load(path)
    for user, token in issued.items():
        found = store.identify(token)
        assert found is not None and found.user == user
        assert store.identify(token[:-1]) is None
        assert store.identify(token + "x") is None
        # what the file holds does not sign anyone in
        assert store.identify(hashlib.sha256(token.encode()).hexdigest()) is None


def test_the_tokens_file_stays_owner_only_and_holds_only_hashes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.toml"
    first = tokens.create(path, "ana@example.com", ["viewer"])
    path.chmod(0o644)  # someone loosened it
    umask = os.umask(0)  # and the process would create files world-writable
    try:
        second = tokens.create(path, "bo@example.com", ["editor", "approver:production"])
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert first not in text and second not in text
    entries = tomllib.loads(text)["tokens"]
    assert [e["sha256"] for e in entries] == [hashlib.sha256(t.encode()).hexdigest() for t in (first, second)]
    assert all(set(e) == {"sha256", "user", "roles", "created"} for e in entries)
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokens.toml"]  # no temporary file left


def test_removing_a_token_from_the_file_revokes_it_without_a_restart(site: Site) -> None:
    path = site.root / ".lamina" / "tokens.toml"
    assert site.client.get("/api/v1/environments", headers=site.bearer("viewer")).status_code == 200
    assert site.client.get("/", headers=site.cookie("viewer")).status_code == 200
    before = path.stat().st_mtime_ns
    revoked = hashlib.sha256(site.token["viewer"].encode()).hexdigest()
    kept = "".join(
        block for block in re.split(r"(?=\[\[tokens\]\])", path.read_text()) if revoked not in block
    )
    while path.stat().st_mtime_ns == before:  # the server notices a change by its time stamp
        path.write_text(kept)
    assert site.client.get("/api/v1/environments", headers=site.bearer("viewer")).status_code == 401
    assert site.client.get("/", headers=site.cookie("viewer")).status_code == 303
    assert site.client.get("/api/v1/environments", headers=site.bearer("editor")).status_code == 200


def test_a_broken_tokens_file_lets_nobody_in(site: Site) -> None:
    (site.root / ".lamina" / "tokens.toml").write_text("this is [not toml\n")
    anyone = site.client.get("/api/v1/environments", headers={"Authorization": "Bearer made-up"})
    # fails closed, and tells the caller only that the server cannot read it (the log says why)
    assert anyone.status_code == 503 and "tokens file cannot be read" in anyone.text
    assert "tokens.toml" not in anyone.text and "not toml" not in anyone.text
    for role in ("viewer", "admin"):
        assert site.client.get("/api/v1/environments", headers=site.bearer(role)).status_code >= 400
        assert site.client.get("/", headers=site.cookie(role)).status_code >= 400
        signed = site.client.post("/login", data={"token": site.token[role]})
        assert signed.status_code >= 400 and "set-cookie" not in signed.headers


# --- CSRF: the dashboard's cookie may not drive changes from another site ---------------------


def test_signing_in_from_another_site_is_refused(site: Site) -> None:
    response = site.client.post(
        "/login", data={"token": site.token["viewer"]}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 401
    assert "This sign-in form did not come from this dashboard." in response.text
    assert "set-cookie" not in response.headers


def test_the_dashboard_cookie_cannot_drive_the_api(site: Site) -> None:
    change_base(site.root)
    record = request_promotion(site)
    forged = {**site.cookie("admin"), "Origin": "https://evil.example", "Content-Type": "text/plain"}
    response = site.client.post(f"/api/v1/promotions/{record['id']}/approve", headers=forged)
    shown = site.client.get(f"/api/v1/promotions/{record['id']}", headers=site.bearer("viewer")).json()
    assert (response.status_code, shown["status"]) in ((401, "testing"), (403, "testing"))


# --- security headers and escaping ------------------------------------------------------------

EXPECTED_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def test_every_answer_is_nosniff_and_api_answers_are_never_cached(site: Site) -> None:
    answers = {
        "api": site.client.get("/api/v1/environments", headers=site.bearer("viewer")),
        "api-error": site.client.get("/api/v1/environments"),
        "metrics": site.client.get("/metrics"),
        "health": site.client.get("/healthz"),
        "redirect": site.client.get("/", follow_redirects=False),
    }
    for name, answer in answers.items():
        assert answer.headers.get("x-content-type-options") == "nosniff", name
    assert answers["api"].headers.get("cache-control") == "no-store"
    assert answers["api-error"].headers.get("cache-control") == "no-store"


def test_every_html_page_carries_the_security_headers_and_no_inline_code(site: Site) -> None:
    xss = "<script>alert('lamina-xss')</script>"
    agent = site.root / "base" / "agent.toml"
    agent.write_text(re.sub(r"(?m)^description\s*=.*$", f'description = "{xss}"', agent.read_text()))
    change_base(site.root)
    request_promotion(site, reason="<img src=x onerror=alert('lamina-xss')>")
    pages = [
        site.client.get("/login"),
        site.client.post("/login", data={"token": "lam_wrong"}),
        site.client.get("/", headers=site.cookie("viewer")),
        site.client.get("/targets/production/prod-us-1", headers=site.cookie("viewer")),
        site.client.get("/targets/production/nowhere", headers=site.cookie("viewer")),  # the error page
        site.client.get("/promotions", headers=site.cookie("viewer")),
        site.client.get("/history/production", headers=site.cookie("viewer")),
        site.client.get("/audit", headers=site.cookie("viewer")),
        site.client.get("/logout", headers=site.cookie("viewer")),
    ]
    assert [p.status_code for p in pages] == [200, 401, 200, 200, 404, 200, 200, 200, 200]
    for response in pages:
        assert response.headers["content-type"].startswith("text/html")
        assert {k: response.headers.get(k) for k in EXPECTED_HEADERS} == EXPECTED_HEADERS, response.url
        html = response.text
        assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == [], response.url
        tags = re.findall(r"<[a-zA-Z][^>]*>", html)
        assert [t for t in tags if re.search(r"\s(?:style|on[a-z]+)\s*=", t)] == [], response.url
    target, promotions = pages[3].text, pages[5].text
    assert xss not in target and "&lt;script&gt;alert(&#39;lamina-xss&#39;)&lt;/script&gt;" in target
    assert "<img src=x" not in promotions
    assert "&lt;img src=x onerror=alert(&#39;lamina-xss&#39;)&gt;" in promotions


# --- what may leak: logs and /readyz ----------------------------------------------------------


def test_lamina_serve_logs_no_token_and_no_request_line(example_repo: Path) -> None:
    no_scheduled_checks(example_repo)
    path = example_repo / ".lamina" / "tokens.toml"
    token = tokens.create(path, "ana@example.com", ["admin"])
    server, url = start_lamina_serve(example_repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "lamina serve did not start"
                time.sleep(0.1)
            bearer = {"Authorization": f"Bearer {token}"}
            assert client.get(f"/api/v1/environments?note={CANARY}", headers=bearer).status_code == 200
            assert client.get("/api/v1/targets/Bad/config", headers=bearer).status_code == 400
            assert client.post("/login", data={"token": token, "next": f"/?{CANARY}"}).status_code == 303
            assert client.post("/login", data={"token": f"lam_{CANARY}"}).status_code == 401
            assert client.get("/", headers={"Cookie": f"{auth.COOKIE}={token}"}).status_code == 200
            wrong = {"Authorization": f"Bearer lam_{CANARY}"}
            assert client.get("/api/v1/audit", headers=wrong).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    log = output.decode("utf-8", "replace")
    assert "lamina serving" in log  # we did read its log
    assert "Application startup complete." in log
    assert token not in log and hashlib.sha256(token.encode()).hexdigest() not in log
    assert CANARY not in log
    assert "/api/v1/" not in log and "GET " not in log and "POST " not in log


def test_readyz_names_the_database_without_its_password(example_repo: Path) -> None:
    no_scheduled_checks(example_repo)
    path = example_repo / ".lamina" / "tokens.toml"
    token = tokens.create(path, "ana@example.com", ["admin"])
    url = f"postgresql://lamina:{CANARY}@127.0.0.1:1/lamina"  # nothing listens on port 1
    settings = ServerSettings(repo_root=example_repo, tokens_file=path, database_url=url)
    assert CANARY not in repr(settings)
    with (
        serving(settings) as (_, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        ready = client.get("/readyz")
        audit = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
        metrics = client.get("/metrics")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "problems": ["database"],
        "revision": git(example_repo, "rev-parse", "HEAD"),
    }
    assert audit.status_code >= 500
    for response in (ready, audit, metrics):
        assert CANARY not in response.text


def test_readyz_names_what_is_not_ready_and_only_the_log_says_why(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    with (site.root / "lamina.toml").open("a") as fleet:
        fleet.write('\n[clusters.extra]\nenvironment = "canary-7f3e9b"\n')
    with caplog.at_level("ERROR", logger="lamina.server"):
        ready = site.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "problems": ["repository"],
        "revision": git(site.root, "rev-parse", "HEAD"),
    }
    assert "canary-7f3e9b" in caplog.text  # the operator learns why


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"source": "staging", "target": "production", "emergency": NaN}', id="nan"),
        pytest.param(b'{"source": "staging", "target": "production", "emergency": Infinity}', id="infinity"),
        pytest.param(
            b'{"source": "staging", "target": "production", "emergency": -Infinity}', id="-infinity"
        ),
        pytest.param(b'{"source": "\\ud800", "target": "production"}', id="lone-surrogate"),
        pytest.param(b'{"source": "staging", "target": "production", "reason": "\\udfff"}', id="lone-low"),
        pytest.param(b'{"source": NaN}', id="nan-in-a-required-field"),
    ],
)
def test_a_json_body_python_cannot_echo_is_refused_not_an_error(site: Site, body: bytes) -> None:
    headers = {**site.bearer("admin"), "Content-Type": "application/json"}
    response = site.client.post("/api/v1/promotions", content=body, headers=headers)
    assert response.status_code in (400, 422), response.text
    answer = response.json()  # the refusal itself is valid JSON
    text = json.dumps(answer)
    assert "NaN" not in text and "Infinity" not in text and "\\ud8" not in text and "\\udf" not in text
