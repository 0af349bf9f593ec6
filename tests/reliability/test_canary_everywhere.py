"""Secret hygiene end to end: one canary secret, every path lamina has to it, and nowhere it shows.

SPEC section 2: secret values never enter a resolved config, a rendered object, a log, a diff,
the audit log or an API response. This module plants one canary value everywhere lamina can
reach a secret —

- the environment: ``VAULT_TOKEN``, the kubeconfig's bearer token (``KUBECONFIG``), the Slack
  and webhook URLs and the webhook signing key that ``[alerts]`` names by variable;
- Vault: ``{secret = "vault:kv/agents#openai"}`` against a local KV v2 API holding the canary;
- the clusters: the Secret ``openai`` (key ``api-key``) in every kmock cluster, and a
  workload whose container carries the canary in a plain env value;

— then runs every ``lamina`` verb (``--json`` where it has one), ``lamina serve`` with every GET
endpoint and dashboard page and the POST actions, and searches stdout, stderr, response
bodies, the server's log, every database table, the audit log, every file lamina wrote and
the git history lamina committed. The positive checks make sure the canary really was
reachable (the stand-ins saw it, the secret checks found the keys), so an empty scan means
something.

Everything is built once for the module (30-55 s, nearly all of it starting ``lamina`` some 60
times); the tests only look at the results. The last test plants the canary where lamina
cannot keep it out, in a promotion check's own output, and shows that it is masked there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_support import lamina_environ
from conftest import GIT_ENV
from k8s_support import (  # type: ignore[import-not-found, unused-ignore]
    CONFIGMAPS,
    DEPLOYMENTS,
    SECRETS,
    EmulatedFleet,
)
from port_support import refusing_port
from rollout_support import DeploymentController

from .canary_support import (
    CANARY,
    NEEDLES,
    Lamina,
    Recorder,
    Run,
    alert_answer,
    files_under,
    find_leaks,
    lamina_serve,
    sqlite_tables,
    vault_answer,
)

FLEET = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["development", "staging", "production"]

        [environments.sandbox]
        extends = "development"   # a lab whose only cluster is down: the error paths

        [clusters.local-dev]
        environment = "development"
        directory = "out/local-dev"
        namespace = "ai-agents"
        secrets = ["openai/api-key"]
        labels = { wave = "0" }

        [clusters.stage-1]
        environment = "staging"
        context = "stage-1"
        namespace = "ai-agents"
        labels = { wave = "0" }

        [clusters.prod-1]
        environment = "production"
        context = "prod-1"
        namespace = "ai-agents"
        labels = { wave = "1", region = "eu" }

        [clusters.prod-2]
        environment = "production"
        context = "prod-2"
        namespace = "ai-agents"
        labels = { wave = "2", region = "us" }

        [clusters.sandbox-1]
        environment = "sandbox"
        context = "sandbox-1"
        namespace = "ai-agents"
        labels = { wave = "0" }

        [render]
        workload = "deployment/agent"

        [render.argocd]
        repo_url = "https://git.example.com/agent-configs.git"
        target_revision = "main"

        [render.flux]
        source = "agent-configs"
        interval = "5m"

        [apply]
        timeout = 2

        [rollout.staging]   # apply staging --rollout: one step, measured at once
        steps    = ["100%"]
        bake     = "0s"
        timeout  = "20s"
        analysis = "agent-health"

        [[analysis]]
        name     = "agent-health"
        provider = { type = "prometheus", url_env = "PROMETHEUS_URL" }
        interval = "1s"
        count    = 1
        [[analysis.metrics]]
        name  = "tool-success-rate"
        query = 'sum(rate(agent_tool_calls_total{cluster="${cluster.name}",status="ok"}[5m]))'
        min   = 0.95

        [drift]
        interval = "1s"   # the server checks at once, so its alerts fire while the test runs
        ignore = ["feature_flags.*"]

        [promotion]
        checks = ["git log -1 --format=%s"]   # a check command runs for every request

        [alerts]
        for = "0"

        [alerts.production]
        sinks = [
            { type = "slack", url_env = "SLACK_PROD_URL" },
            { type = "webhook", url_env = "ALERT_HOOK_URL", secret_env = "ALERT_HOOK_KEY" },
        ]
    """,
    "base/agent.toml": """
        [agent]
        model = "gpt-4o"
        temperature = 0.2
        system_prompt = { file = "prompts/system.txt" }
        api_key = { secret = "openai/api-key" }   # a Kubernetes Secret: the value stays there

        [vault]
        openai = { secret = "vault:kv/agents#openai" }   # checked in Vault by name only

        [feature_flags]
        streaming = true
    """,
    "base/prompts/system.txt": "You are a helpful agent.\nBe brief.\n",
    "overlays/production/agent.toml": """
        [agent]
        temperature = 0.1   # production answers should be steadier
    """,
    "overlays/sandbox/agent.toml": """
        [vault]
        legacy = { secret = "vault:kv/legacy#token" }   # not in Vault: the missing path
    """,
    "clusters/prod-2.toml": """
        [agent]
        max_tokens = 512   # us traffic is billed per token
    """,
    ".gitignore": ".lamina/\nout/\n",
}

API_CLUSTERS = ("stage-1", "prod-1", "prod-2")
ROLES = {
    "viewer": ("vera@example.com", "viewer"),
    "editor": ("ed@example.com", "editor"),
    "approver": ("ana@example.com", "approver:production"),
    "admin": ("root@example.com", "admin"),
}
# values for the path and query parameters of the API's GET routes (read from /openapi.json);
# request_id is added once requests exist
PARAMETERS = {
    "environment": "production",
    "cluster": "prod-1",
    "key": "agent.api_key",
    "a": "staging/stage-1",
    "b": "production/prod-2",
    "rollout_id": "1",  # the staging rollout, paused: Prometheus (its URL holds the canary) is down
}


# -- building the world -----------------------------------------------------------------------


@dataclass
class World:
    """Everything the module's tests look at, captured once."""

    root: Path
    k8s: Any  # k8s_support.EmulatedFleet
    vault: Recorder
    alerts: Recorder
    runs: list[Run]
    tokens: dict[str, str]
    http: dict[str, int] = field(default_factory=dict)  # request -> status
    captures: dict[str, dict[str, str | bytes]] = field(default_factory=dict)  # surface -> name -> text
    openapi_gets: list[str] = field(default_factory=list)
    server_gates: dict[str, str] = field(default_factory=dict)  # of a request made through the API

    def capture(self, surface: str, name: str, content: str | bytes) -> str:
        """Keep content under a unique name (the same request made twice is kept twice)."""
        kept = self.captures.setdefault(surface, {})
        unique, count = name, 1
        while unique in kept:
            count += 1
            unique = f"{name} #{count}"
        kept[unique] = content
        return unique

    def run(self, *args: str, code: int = 0) -> Run:
        """The last kept run with these arguments that exited with code."""
        return [r for r in self.runs if r.args == args and r.code == code][-1]


def git(root: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(root.parent), **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def write_fleet(root: Path) -> str:
    """The config repository in two commits (a rollback needs an older revision); the first's id."""
    for rel, text in FLEET.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A", ":!clusters/prod-2.toml")
    git(root, "commit", "-q", "-m", "fleet")
    first = git(root, "rev-parse", "HEAD")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "prod-2: fewer tokens")
    return first


def secret(name: str, key: str) -> dict[str, Any]:
    data = {key: base64.b64encode(CANARY.encode()).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ai-agents"},
        "data": data,
    }


def deployment() -> dict[str, Any]:
    """The workload apply rolls; its container has the canary as a plain env value (bad practice,
    but common), so anything lamina echoes of the live workload would show it."""
    container = {"name": "agent", "image": "agent:1", "env": [{"name": "OPENAI_API_KEY", "value": CANARY}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "agent", "namespace": "ai-agents"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "agent-config", "configMap": {"name": "none-yet"}}],
                },
            },
        },
    }


def start_clusters(k8s: Any) -> None:
    """The kmock clusters, each with the canary Secret; the kubeconfig's token is the canary."""
    for name in API_CLUSTERS:
        k8s.add(name)
        k8s.put(name, DEPLOYMENTS, deployment())
        k8s.put(name, SECRETS, secret("openai", "api-key"))
    k8s.add_unreachable("sandbox-1")
    config = json.loads(k8s.kubeconfig.read_text())
    config["users"] = [{"name": "tester", "user": {"token": CANARY}}]
    k8s.kubeconfig.write_text(json.dumps(config))


def hand_edit_prod_1(k8s: Any) -> None:
    """Someone edits prod-1's config by hand: drift, and a firing alert once the server checks."""
    name = next(n for n in k8s.objects("prod-1", CONFIGMAPS) if n.startswith("agent-config"))
    live = json.loads(k8s.objects("prod-1", CONFIGMAPS)[name]["data"]["agent-config.json"])
    live["agent"]["temperature"] = 0.9
    k8s.hand_edit("prod-1", name, {"agent-config.json": json.dumps(live, indent=2)})


def run_cli_before_server(lamina: Lamina, out: Path, first: str, k8s: Any) -> dict[str, str]:
    """Every verb before the server starts: the reads side by side with the changes; the tokens."""
    with ThreadPoolExecutor(max_workers=1) as lane:
        changes = lane.submit(apply_drift_and_promote, lamina, first, k8s)
        read_everything(lamina, out, first)
        changes.result()
    lamina.side_by_side(
        [
            (("history", "staging"), (0,)),
            (("history", "--stats", "--json"), (0,)),
            (("status", "--json"), (0,)),
            (("status",), (0,)),
            (("notices", "--json"), (0,)),
        ]
    )
    tokens = {}
    for role, (user, grant) in ROLES.items():
        # the token is printed once: keep it as a needle, not as a capture
        created = lamina("token", "create", user, "--role", grant, keep=False)
        assert created.code == 0, created.err
        tokens[role] = created.out.strip()
        lamina.runs.append(Run(created.args, created.code, "<the new token>", created.err))
    return tokens


def read_everything(lamina: Lamina, out: Path, first: str) -> None:
    """The verbs that only read (and render into their own folders), side by side."""
    gitops = lamina.root / "out"  # GitOps folders must be in the repository: Argo CD and Flux sync git
    # (arguments, expected exit codes)
    lamina.side_by_side(
        [
            (("envs", "--json"), (0,)),
            (("envs",), (0,)),
            (("clusters", "--json"), (0,)),
            (("clusters", "--selector", "wave=1"), (0,)),
            (("build", "production/prod-2"), (0,)),
            (("build", "production/prod-2", "--format", "yaml"), (0,)),
            (("build", "production/prod-2", "--format", "toml"), (0,)),
            (("build", "staging/stage-1", "--hash"), (0,)),
            (("build", f"production/prod-1@{first}"), (0,)),
            (("explain", "production/prod-1", "agent.api_key", "--json"), (0,)),
            (("explain", "production/prod-1", "vault.openai"), (0,)),
            (("explain", "production/prod-1", "agent.api_key", "--blame", "--json"), (0,)),
            (("explain", "production/prod-1", "vault.openai", "--blame"), (0,)),
            (("diff", "staging/stage-1", "production/prod-2", "--json"), (1,)),
            (("diff", "development", "sandbox"), (1,)),
            (("parity", "--json"), (0, 1)),
            (("parity", "--strict"), (0, 1)),
            (("plan", "--from", first, "--json"), (1,)),
            (("plan", "--from", first, "--format", "markdown"), (1,)),
            (("validate", "--json"), (0,)),
            (("validate",), (0,)),
            (("migrate", "--json"), (0,)),
            (("migrate",), (0,)),
            (("render", "production/prod-1", "--print"), (0,)),
            (("secrets", "check", "development", "--json"), (0,)),
            (("secrets", "check", "staging", "--json"), (0,)),
            (("secrets", "check", "production"), (0,)),
            (("secrets", "check", "sandbox", "--json"), (1,)),  # unreachable, and missing in Vault
            (("apply", "staging", "production", "--dry-run", "--json"), (0,)),
            # renders write separate folders (and replace their cache file atomically)
            (("render", "--out", str(out), "--json"), (0,)),
            (("render", "--out", str(gitops / "argocd"), "--gitops", "argocd", "--json"), (0,)),
            (("render", "--out", str(gitops / "flux"), "--gitops", "flux"), (0,)),
            (("render", "--json"), (0,)),  # the directory cluster, into its own folder
        ]
    )


def apply_drift_and_promote(lamina: Lamina, first: str, k8s: Any) -> None:
    """Apply, a hand edit and drift, a promotion (request, show, approve, apply), a rejected
    rollback, a freeze: one after another, since each builds on the last."""
    lamina("apply", "staging", "production", "development", "--json")
    lamina.side_by_side(
        [
            (("apply", "production"), (0,)),  # again: nothing to change
            (("apply", "sandbox", "--json"), (1,)),  # refused: a secret it references is missing
            (
                ("apply", "sandbox", "--force", "--reason", "the legacy token moves next week", "--json"),
                (3,),  # forced past the missing secret, and its cluster is down
            ),
        ]
    )
    hand_edit_prod_1(k8s)
    lamina.side_by_side([(("drift", "--json"), (1,)), (("drift", "production"), (1,))])

    request = lamina("promote", "request", "development", "staging", "--reason", "ship it", "--json")
    pr = request.json()["id"] if request.code == 0 else "PR-1"  # a failure shows in the exit codes test
    lamina("promote", "show", pr, "--json")
    lamina("promote", "show", pr)
    lamina("promote", "approve", pr, "--comment", "looks right", "--json", user="ana@example.com")
    lamina("promote", "apply", pr, "--json")
    # staging's new pin, as a rollout: measured against a Prometheus that refuses, so it pauses
    with DeploymentController(k8s):  # only while the rollout waits for its workload
        lamina("apply", "staging", "--rollout", "--json")
    lamina("rollout", "status", "1")
    rollback = lamina("rollback", "staging", "--to", first, "--reason", "undo", "--json")
    back = rollback.json()["id"] if rollback.code == 0 else "PR-2"
    lamina("promote", "reject", back, "--comment", "not needed", "--json", user="ana@example.com")
    lamina("freeze", "production", "--until", "1h", "--reason", "quiet period")
    lamina("unfreeze", "production")


class Http:
    """Requests to the running server, each body kept as a capture and each status noted."""

    def __init__(self, world: World, client: httpx.Client) -> None:
        self.world = world
        self.client = client

    def __call__(
        self, method: str, path: str, role: str | None = "admin", expect: int | None = 200, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.world.tokens[role]}"
        response = self.client.request(method, path, headers=headers, **kwargs)
        name = f"{method} {path} as {role or 'nobody'}"
        # headers too (a redirect's Location, an error header), but not the session cookie
        shown = "\n".join(f"{k}: {v}" for k, v in response.headers.items() if k.lower() != "set-cookie")
        name = self.world.capture("http", name, f"{response.status_code}\n{shown}\n\n{response.text}")
        self.world.http[name] = response.status_code
        if expect is not None:
            assert response.status_code == expect, f"{name}: {response.status_code} {response.text[:500]}"
        return response


def csrf_for(page: str, action: str) -> str:
    """The hidden csrf value of the dashboard form posting to action."""
    match = re.search(
        rf'action="{re.escape(action)}">\s*<input type="hidden" name="csrf" value="(\w+)"', page
    )
    assert match, f"no form for {action}"
    return match.group(1)


def get_everything(http: Http, openapi: dict[str, Any], requests: list[str]) -> list[str]:
    """Every GET route of the API (from /openapi.json), the dashboard pages and the extras."""
    paths = []
    values = {**PARAMETERS, "request_id": requests[0]}
    for template, operations in sorted(openapi["paths"].items()):
        if "get" not in operations:
            continue
        path = template
        query = {}
        for parameter in operations["get"].get("parameters", []):
            name = parameter["name"]
            if parameter["in"] == "path":
                assert name in values, f"a new route {template}: add a value for {name} to PARAMETERS"
                path = path.replace("{" + name + "}", values[name])
            elif name in values:
                query[name] = values[name]
            else:
                assert not parameter.get("required"), f"{template}: add a value for {name} to PARAMETERS"
        http("GET", path, params=query)
        paths.append(template)
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/",
        "/promotions",
        "/history/production",
        "/history/staging",
        "/audit",
        "/rollouts",
        "/rollouts/1",
        "/logout",
        "/targets/production/prod-1",
        "/targets/production/prod-1?against=staging/stage-1",
        "/api/v1/targets/production/prod-1/explain?key=vault.openai",
        "/api/v1/targets/staging/config",
        "/api/v1/clusters?selector=wave%3D1",
        "/api/v1/validate?environment=sandbox",
        *(f"/api/v1/promotions/{pr}" for pr in requests),
    ):
        http("GET", path)
    for role in ("viewer", "approver"):
        for path in ("/", "/promotions", "/audit", "/rollouts/1"):
            http("GET", path, role=role)
    http("GET", "/history", expect=303)
    http("GET", "/static/lamina.js")
    http("GET", "/api/v1/targets/production/nope/config", expect=None)  # an error answer
    http("GET", "/api/v1/promotions/PR-999", expect=None)
    http("GET", "/", role=None, expect=303)
    return paths


def drive_server(world: World, url: str, first_requests: list[str]) -> None:
    """POST every action (API and dashboard), wait for the alerts, then GET everything."""
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        http = Http(world, client)
        http("POST", "/api/v1/drift/run", role="editor")
        release = http(
            "POST",
            "/api/v1/promotions",
            role="editor",
            json={"source": "staging", "target": "production", "reason": "weekly release"},
            expect=201,
        ).json()
        world.server_gates = {gate["name"]: gate["status"] for gate in release["gates"]}
        made = release["id"]
        http("POST", f"/api/v1/promotions/{made}/approve", role="approver", json={"comment": "ok"})
        http("POST", f"/api/v1/promotions/{made}/apply", role="approver")
        urgent = http(
            "POST",
            "/api/v1/promotions",
            role="editor",
            json={"source": "development", "target": "production", "reason": "hotfix", "emergency": True},
            expect=201,
        ).json()["id"]
        number = urgent.removeprefix("PR-")
        page = http("GET", "/promotions", role="approver").text
        form = {"csrf": csrf_for(page, f"/promotions/{number}/approve"), "comment": "urgent"}
        http("POST", f"/promotions/{number}/approve", role="approver", data=form, expect=303)
        http("POST", f"/api/v1/promotions/{urgent}/reject", role="admin", json={"comment": "use the path"})
        other = http(
            "POST",
            "/api/v1/promotions",
            role="editor",
            json={"source": "development", "target": "staging", "reason": "second try", "emergency": True},
            expect=201,
        ).json()["id"]
        number = other.removeprefix("PR-")
        page = http("GET", "/promotions", role="admin").text
        form = {"csrf": csrf_for(page, f"/promotions/{number}/approve"), "comment": "no"}
        http("POST", f"/promotions/{number}/reject", role="admin", data=form, expect=303)

        # the staging rollout: paused already (409), resumed, then aborted
        http("POST", "/api/v1/rollouts/1/pause", role="editor", expect=409)
        http("POST", "/api/v1/rollouts/1/resume", role="viewer", expect=403)
        http("POST", "/api/v1/rollouts/1/resume", role="editor")
        http("POST", "/api/v1/rollouts/1/abort", role="admin")

        # the dashboard's own sign-in: token in a form, session in a cookie, sign out with CSRF
        with httpx.Client(base_url=url, timeout=30) as browser:
            session = Http(world, browser)
            session(
                "POST", "/login", role=None, data={"token": world.tokens["viewer"], "next": "/"}, expect=303
            )
            page = session("GET", "/logout", role=None).text
            form = {"csrf": csrf_for(page, "/logout")}
            session("POST", "/logout", role=None, data=form, expect=303)
            session("POST", "/login", role=None, data={"token": "lam_wrong", "next": "/"}, expect=401)

        wait_for_alerts(world.alerts)
        requests = [*first_requests, made, urgent, other]
        world.openapi_gets = get_everything(http, http("GET", "/openapi.json").json(), requests)


def wait_for_alerts(alerts: Recorder, timeout: float = 20) -> None:
    """Until both production sinks got the drift alert (each after one refused try)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for seen in alerts.seen if seen.method == "POST") >= 4:
            return
        time.sleep(0.1)


def run_cli_after_server(lamina: Lamina) -> None:
    """What the server did, seen from the CLI; adopting the hand edit, healing; a broken database."""
    lamina.side_by_side(
        [
            (("promote", "list", "--json"), (0,)),
            (("promote", "list"), (0,)),
            (("history", "production", "--json"), (0,)),
            (("drift", "--json"), (1,)),
        ]
    )
    # the aborted rollout sends stage-1 back (unless the server's scheduler did already)
    lamina("rollout", "resume", "1", "--json", expect=(1,))
    lamina("rollout", "status", "1", "--json")
    lamina("drift", "--adopt", "production/prod-1", "--reason", "the hand edit was right")
    lamina("drift", "--heal", "--json", expect=(0, 1))
    lamina.side_by_side(
        [(("audit",), (0,)), (("audit", "--json"), (0,)), (("audit", "--verify", "--json"), (0,))]
    )
    # a PostgreSQL URL whose password is the canary, and no server there: the error names the
    # database, never the password
    unreachable = f"postgresql://lamina:{CANARY}@127.0.0.1:{refusing_port()}/state"
    Lamina(lamina.root, {**lamina.env, "LAMINA_DATABASE_URL": unreachable}, runs=lamina.runs)(
        "audit", expect=(3,)
    )


def capture_leftovers(world: World, lamina: Lamina, out: Path, log: Path, sandbox: Path) -> None:
    """stdout/stderr of every run, the server log, the database, the audit log, files, git."""
    for run in lamina.runs:
        world.capture("cli", run.name, f"{run.out}\n{run.err}")
    world.capture("server log", "lamina serve", log.read_bytes())
    for table, rows in sqlite_tables(world.root / ".lamina" / "state.db").items():
        world.capture("database", table, rows)
    world.capture("audit log", "lamina audit --json", world.run("audit", "--json").out)
    world.capture("audit log", "lamina audit", world.run("audit").out)
    for folder in (world.root, out, sandbox):
        for rel, data in files_under(folder).items():
            world.capture("files", f"{folder.name}/{rel}", data)
    world.capture("git history", "git log -p --all", git(world.root, "log", "-p", "--all", "--format=fuller"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("canary")
    root, out, sandbox = base / "repo", base / "rendered", base / "home"
    sandbox.mkdir()
    first = write_fleet(root)
    vault = Recorder(vault_answer)
    alerts = Recorder(alert_answer)
    try:
        with EmulatedFleet(base / "k8s") as k8s:
            start_clusters(k8s)
            env = lamina_environ(
                HOME=str(sandbox),  # anything lamina writes outside the repo lands here or in TMPDIR
                TMPDIR=str(sandbox),
                KUBECONFIG=str(k8s.kubeconfig),
                VAULT_ADDR=vault.url,
                VAULT_TOKEN=CANARY,
                SLACK_PROD_URL=f"{alerts.url}/services/T0001/B0001/{CANARY}",
                ALERT_HOOK_URL=f"{alerts.url}/hook?token={CANARY}",
                ALERT_HOOK_KEY=CANARY,
                PROMETHEUS_URL=f"http://lamina:{CANARY}@127.0.0.1:{refusing_port()}/prom?token={CANARY}",
                # ~15% less CPU per run: lamina's bytecode is cached (in a folder nobody scans)
                PYTHONDONTWRITEBYTECODE="",
                PYTHONPYCACHEPREFIX=str(base / "pycache"),
            )
            lamina = Lamina(root, env)
            tokens = run_cli_before_server(lamina, out, first, k8s)
            world = World(root, k8s, vault, alerts, lamina.runs, tokens)
            log = base / "serve.log"
            first_requests = sorted({str(r.json()["id"]) for r in lamina.runs if _made_request(r)})
            with lamina_serve(root, env, log) as url:
                drive_server(world, url, first_requests)
            run_cli_after_server(lamina)
            capture_leftovers(world, lamina, out, log, sandbox)
            yield world
    finally:
        vault.close()
        alerts.close()


def _made_request(run: Run) -> bool:
    """A CLI run that opened a promotion request (its id is requested from the API later)."""
    return run.code == 0 and run.args[:2] in {("promote", "request"), ("rollback", "staging")}


# -- the tests ----------------------------------------------------------------------------------


def test_the_canary_was_planted_where_it_must_be(world: World) -> None:
    # the clusters hold it as the Secret's value, and lamina's requests carried it as the token
    for name in API_CLUSTERS:
        assert world.k8s.objects(name, SECRETS)["openai"]["data"]["api-key"] == NEEDLES["canary as base64"]
        tokens = {request.headers.get("Authorization") for request in world.k8s.emulators[name]}
        assert f"Bearer {CANARY}" in tokens, name
    # Vault was asked for the secret holding it, with the canary as the token
    reads = [s for s in world.vault.seen if s.path.startswith("/v1/kv/data/agents")]
    assert reads
    assert {s.headers.get("X-Vault-Token") for s in reads} == {CANARY}
    # the alert sinks used the canary URLs, and the webhook signed with the canary key
    posts = [s for s in world.alerts.seen if s.method == "POST"]
    slack = [s for s in posts if s.path == f"/services/T0001/B0001/{CANARY}"]
    hooks = [s for s in posts if s.path == f"/hook?token={CANARY}"]
    assert slack, "the Slack sink never posted: no drift alert fired"
    assert hooks, "the webhook sink never posted: no drift alert fired"
    for hook in hooks:
        expected = "sha256=" + hmac.new(CANARY.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hook.headers.get("X-Lamina-Signature") == expected
    # and the scan finds it when it is there
    assert find_leaks({"control": f"x{CANARY}y"}, NEEDLES)


def test_the_secret_checks_ran_and_found_the_keys(world: World) -> None:
    checks = world.run("secrets", "check", "staging", "--json").json()
    statuses = {(c["cluster"], c["reference"]): c["status"] for c in checks}
    assert statuses == {
        ("stage-1", "openai/api-key"): "present",
        ("stage-1", "vault:kv/agents#openai"): "present",
    }
    sandbox = {
        c["reference"]: c["status"] for c in world.run("secrets", "check", "sandbox", "--json", code=1).json()
    }
    assert sandbox == {
        "openai/api-key": "unreachable",
        "vault:kv/agents#openai": "present",
        "vault:kv/legacy#token": "missing",
    }
    # the promotion gates checked them too: through the CLI, and through the server's environment
    shown = world.run("promote", "show", "PR-1", "--json").json()
    gates = {gate["name"]: gate["status"] for gate in shown["gates"]}
    assert gates["secrets"] == "passed"
    assert world.server_gates["secrets"] == "passed"


def test_every_command_and_request_ran(world: World) -> None:
    unexpected = [f"{r.name}: exit {r.code}\n{r.err[-800:]}" for r in world.runs if r.code not in r.expected]
    assert unexpected == []
    assert len(world.runs) >= 55
    # every GET route the API documents was requested, and answered
    assert len(world.openapi_gets) >= 15
    failed = {name: status for name, status in world.http.items() if status >= 500}
    assert failed == {}
    assert len(world.http) >= 50
    # what the scan covers is not empty
    assert len(world.captures["database"]) >= 8
    assert world.captures["server log"]["lamina serve"]
    audit = json.loads(world.run("audit", "--json").out)
    assert len(audit) >= 10
    assert world.run("audit", "--verify", "--json").json()["ok"] is True


SURFACES = [
    pytest.param("cli", id="cli-stdout-stderr"),
    pytest.param("http", id="api-and-dashboard-responses"),
    pytest.param("server log", id="server-log"),
    pytest.param("database", id="database-tables"),
    pytest.param("audit log", id="audit-log"),
    pytest.param("files", id="files-written"),
    pytest.param("git history", id="git-history"),
]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_canary_appears_nowhere(world: World, surface: str) -> None:
    # the issued API tokens are secrets too: none may show up outside `token create`'s stdout
    needles = {**NEEDLES, **{f"{role} API token": token for role, token in world.tokens.items()}}
    captures = world.captures[surface]
    assert captures, f"nothing captured for {surface}"
    assert find_leaks(captures, needles) == []


# -- a promotion check that echoes what it inherited --------------------------------------------

CHECKED_FLEET = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["development", "staging"]

        [clusters.dev-1]
        environment = "development"
        directory = "out/dev-1"
        secrets = ["openai/api-key"]

        [clusters.stage-1]
        environment = "staging"
        directory = "out/stage-1"
        secrets = ["openai/api-key"]

        [promotion]
        checks = ["{python} checks/evals.py"]
    """,
    "base/agent.toml": """
        [agent]
        model = "gpt-4o"
        api_key = { secret = "openai/api-key" }
    """,
    # an eval that talks to Vault and, like `curl -v`, prints the request it sent when it fails
    "checks/evals.py": """
        import os
        import sys

        print("> GET /v1/kv/data/evals HTTP/1.1")
        print("> X-Vault-Token: " + os.environ["VAULT_TOKEN"])
        print("< HTTP/1.1 503 Service Unavailable")
        sys.exit(1)
    """,
    ".gitignore": ".lamina/\nout/\n",
}


def test_a_check_that_echoes_its_environment_does_not_leak_the_canary(tmp_path: Path) -> None:
    import sys

    root = tmp_path / "repo"
    for rel, text in CHECKED_FLEET.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n").replace("{python}", sys.executable))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fleet")
    lamina = Lamina(root, lamina_environ(VAULT_TOKEN=CANARY, HOME=str(tmp_path)))
    request = lamina("promote", "request", "development", "staging", "--json", expect=(1,))
    shown = lamina("promote", "show", "PR-1")
    # the check ran (and failed): its gate is there
    assert request.code == 1, request.err
    gates = {gate["name"]: gate["status"] for gate in request.json()["gates"]}
    assert gates[f"check: {sys.executable} checks/evals.py"] == "failed"
    captures: dict[str, str | bytes] = {run.name: f"{run.out}\n{run.err}" for run in (request, shown)}
    captures.update(sqlite_tables(root / ".lamina" / "state.db"))
    assert find_leaks(captures, NEEDLES) == []
