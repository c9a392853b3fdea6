"""docker-compose.yml, Dockerfile and .env.example, checked without Docker.

The stack itself is exercised process for process by tests/test_distributed.py; this file
checks what only the compose deployment has: the file is valid against the Compose
Specification schema (vendored in tests/data/, see tests/data/README.md), every Airflow
command in it exists in the installed Airflow 3, every path it or the Dockerfile names
exists, every variable it reads is documented in .env.example, no secret has a default,
every long-running service has a healthcheck, and airflow-init creates the pool the DAG uses.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from tree_strings import strings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
AIRFLOW_BIN = PROJECT_ROOT / ".venv" / "bin" / "airflow"

#: Services that run once and exit; every other service must have a healthcheck.
ONE_SHOT_SERVICES = {"airflow-init", "airflow-cli"}
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "airflow-cli",
}
#: Variables holding secrets: compose must refuse to start without them, no defaults anywhere.
SECRET_VARIABLES = {
    "FLOW_HMAC_KEY",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
}
SECRET_NAME = re.compile(r"PASSWORD(?!S?_FILE)|SECRET|FERNET|HMAC|TOKEN|_KEY$|_AUTH$", re.IGNORECASE)
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, ${VAR:+alt}; $$ escapes.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
# "airflow <subcommand>" in a shell string, not "/opt/airflow", "airflow.providers", "airflow:pw@".
_AIRFLOW_CALL = re.compile(r"(?<![\w/.@:-])airflow[ \t]+(?=[a-z])")


# ----------------------------------------------------------------------------- loading


@cache
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@cache
def _compose() -> dict[str, Any]:
    return yaml.safe_load(compose_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _compose()


def variables_used(text: str) -> dict[str, set[str]]:
    """Variable name -> the interpolation operators it is used with ('' for plain ${VAR})."""
    used: dict[str, set[str]] = {}
    for match in _VARIABLE.finditer(text):
        name = match["name"] or match["bare"]
        if name:
            used.setdefault(name, set()).add(match["op"] or "")
    return used


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of a loaded tree; raises KeyError like compose refuses to start."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["name"] or match["bare"]
        op, arg, value = match["op"] or "", match["arg"] or "", env.get(match["name"] or match["bare"])
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"required variable {name} is missing a value: {arg}")
            return value
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if value is not None else ""
        return value or ""

    return _VARIABLE.sub(replace, node)


def env_example(include_commented: bool = True) -> dict[str, str]:
    """VAR -> value of every `VAR=value` line of .env.example (and of `# VAR=value` lines)."""
    listed = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.strip())
        if match and (include_commented or not match[1]):
            listed[match[2]] = match[3].strip()
    return listed


def filled_env() -> dict[str, str]:
    """.env.example with every empty value filled in, as an operator would."""
    return {name: value or f"test-{name.lower()}" for name, value in env_example(include_commented=False).items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        logical.append(current)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in logical]


# ----------------------------------------------------------------------------- schema


def test_compose_file_is_yaml_with_the_expected_services(compose: dict[str, Any]) -> None:
    assert isinstance(compose, dict)
    expected = {"postgres", "redis", "dashboards", *AIRFLOW_SERVICES}
    assert set(compose["services"]) == expected


def test_compose_file_validates_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for label, document in (("as written", compose), ("after interpolation", interpolate(compose, filled_env()))):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, f"{label}: " + "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_schema_validation_catches_mistakes() -> None:
    """The vendored schema really rejects what compose would (not an always-true schema)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    broken = json.loads(json.dumps(_compose()))
    broken["services"]["redis"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["postgres"]["restart"] = ["always"]
    broken["volumez"] = {}
    assert len(list(validator.iter_errors(broken))) >= 3


# ----------------------------------------------------------------------------- Airflow CLI


def airflow_commands(compose: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(where, argv after `airflow`) for every Airflow command the stack runs.

    A service of the project image without its own entrypoint runs `airflow <command>`
    (the image's ENTRYPOINT); shell strings (healthchecks, the init script) may call
    `airflow ...` anywhere.
    """
    found = []
    image = _compose()["x-airflow-common"]["image"]
    for name, service in compose["services"].items():
        if service.get("image") == image and "entrypoint" not in service:
            command = service.get("command")
            argv = shlex.split(command) if isinstance(command, str) else list(command)
            found.append((f"{name}: command", argv))
        for text in strings({k: v for k, v in service.items() if k != "environment"}):
            for line in text.replace("$$", "$").splitlines():
                for match in _AIRFLOW_CALL.finditer(line):
                    rest = re.split(r"[;&|)`]", line[match.end() :])[0]
                    found.append((f"{name}: {line.strip()[:60]}", shlex.split(rest)))
    return found


@cache
def airflow_parser() -> argparse.ArgumentParser:
    from airflow.cli.cli_parser import get_parser

    return get_parser()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def command_path(argv: list[str]) -> list[str]:
    """The group/command names argv starts with (e.g. ['celery', 'worker']); [] if it names
    no command, or stops at a group (`jobs chek` is not a command)."""
    path, parser = [], airflow_parser()
    for token in argv:
        choices = _subcommands(parser)
        if token not in choices:
            break
        path.append(token)
        parser = choices[token]
    return [] if _subcommands(parser) else path


def test_the_compose_file_runs_airflow_commands(compose: dict[str, Any]) -> None:
    commands = {" ".join(argv[:2]) for _, argv in airflow_commands(compose)}
    for expected in (
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "celery worker",
        "db migrate",
        "pools set",
        "jobs check",
    ):
        assert any(c == expected or c.startswith(expected + " ") for c in commands), (expected, commands)


def test_every_airflow_command_parses_with_the_installed_airflow(compose: dict[str, Any]) -> None:
    """The whole command line, options included, as Airflow 3's own argument parser sees it."""
    parser = airflow_parser()
    for where, argv in airflow_commands(compose):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{where}: `airflow {shlex.join(argv)}` is not a valid Airflow 3 command (exit {exc.code})")


def test_every_airflow_subcommand_answers_help(compose: dict[str, Any], tmp_path: Path) -> None:
    """`airflow <subcommand> --help` exits 0 for every subcommand the stack uses."""
    paths = sorted({tuple(command_path(argv)) for _, argv in airflow_commands(compose)})
    unknown = [" ".join(argv) for _, argv in airflow_commands(compose) if not command_path(argv)]
    assert not unknown, f"not an Airflow 3 command: {unknown}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "nagasaki-flow-pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def run(path: tuple[str, ...]) -> tuple[tuple[str, ...], subprocess.CompletedProcess]:
        return path, subprocess.run(
            [str(AIRFLOW_BIN), *path, "--help"], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, paths))
    for path, result in results:
        assert result.returncode == 0, f"`airflow {' '.join(path)} --help` exited {result.returncode}:\n{result.stderr[-1500:]}"
        assert f"airflow {' '.join(path)}" in " ".join(result.stdout.split()), result.stdout[:500]


def test_worker_healthcheck_names_the_providers_celery_app(compose: dict[str, Any]) -> None:
    import importlib.util

    test = " ".join(compose["services"]["airflow-worker"]["healthcheck"]["test"])
    module = re.search(r"--app\s+([\w.]+)\.app\b", test)[1]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert re.search(r'^app\s*=|name == "app"', source, re.MULTILINE), f"{module} defines no Celery app"


def test_environment_uses_real_airflow_options(compose: dict[str, Any]) -> None:
    """Configuration only as AIRFLOW__SECTION__KEY, and each names an option Airflow 3 has."""
    from airflow.configuration import retrieve_configuration_description

    # Airflow's own options and those of the installed providers (the [celery] section).
    described = retrieve_configuration_description(include_providers=True)
    names = set()
    for service in compose["services"].values():
        names |= {n for n in (service.get("environment") or {}) if n.startswith("AIRFLOW")}
    assert names
    for name in sorted(names):
        if not name.startswith("AIRFLOW__"):
            continue  # our own AIRFLOW_ADMIN_* inputs of the init script
        section, _, key = name[len("AIRFLOW__") :].lower().partition("__")
        assert key in described.get(section, {}).get("options", {}), f"{name}: Airflow 3 has no [{section}] {key}"
    assert "AIRFLOW_CONFIG" not in names, "settings belong in AIRFLOW__SECTION__KEY variables, not a config file"


def test_flow_variables_are_settings_the_pipeline_reads(compose: dict[str, Any]) -> None:
    config_source = (PROJECT_ROOT / "flowlib" / "config.py").read_text(encoding="utf-8")
    known = set(re.findall(r'"(FLOW_[A-Z0-9_]+)"', config_source))
    for service in compose["services"].values():
        for name in service.get("environment") or {}:
            if name.startswith("FLOW_"):
                assert name in known, f"{name} is not read by flowlib/config.py (typo?)"


# ----------------------------------------------------------------------------- init service


def init_script(compose: dict[str, Any]) -> str:
    init = compose["services"]["airflow-init"]
    assert init["entrypoint"] in ("/bin/bash", ["/bin/bash"]) and init["command"][0] == "-c"
    return init["command"][1]


def test_init_migrates_creates_admin_password_and_the_writer_pool(compose: dict[str, Any]) -> None:
    script = init_script(compose)
    argvs = [argv for where, argv in airflow_commands(compose) if where.startswith("airflow-init:")]
    assert ["db", "migrate"] in argvs
    pools = [airflow_parser().parse_args(argv) for argv in argvs if argv[:2] == ["pools", "set"]]
    assert [(p.pool, int(p.slots)) for p in pools] == [("duckdb_writer", 1)]
    from flowlib.dag_defaults import WAREHOUSE_POOL

    assert WAREHOUSE_POOL == "duckdb_writer", "the DAGs use another pool"
    for dag in ("nightly_flow.py", "catchup_flow.py"):
        dag_source = (PROJECT_ROOT / "dags" / dag).read_text(encoding="utf-8")
        assert re.search(r"^from flowlib\.dag_defaults import .*\bWAREHOUSE_POOL\b", dag_source, re.MULTILINE), dag
        assert "pool=WAREHOUSE_POOL" in dag_source and "pool=" not in dag_source.replace("pool=WAREHOUSE_POOL", ""), dag
    assert "set -euo pipefail" in script, "a failed init step must stop the stack from starting"
    # The admin password reaches the SimpleAuthManager's password file, which only init writes.
    env = compose["x-airflow-common"]["environment"]
    passwords_file = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords_file in script and "AIRFLOW_ADMIN_PASSWORD" in script
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    variables = re.search(r"airflow variables import .*?(\S+\.json)", script)[1]
    assert variables.startswith("/opt/flow/")
    assert isinstance(json.loads((PROJECT_ROOT / variables.removeprefix("/opt/flow/")).read_text()), dict)


def test_admin_password_file_reaches_only_init_and_the_api_server(compose: dict[str, Any]) -> None:
    passwords_dir = str(
        Path(compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent
    )
    mounting = {
        name: volume
        for name, service in compose["services"].items()
        for volume in service.get("volumes", [])
        if volume.split(":")[1] == passwords_dir
    }
    assert set(mounting) == {"airflow-init", "airflow-apiserver"}
    # SimpleAuthManager.init() opens the file with "a+": a read-only mount would stop the api-server.
    assert not mounting["airflow-apiserver"].endswith(":ro")


def test_services_start_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES - {"airflow-cli"}:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


# ----------------------------------------------------------------------------- health, scaling


def test_every_long_running_service_has_a_healthcheck_and_restarts(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert not service["healthcheck"].get("disable"), name
        assert service.get("restart") == "always", f"{name} does not restart"


def test_workers_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert worker["command"] == "celery worker"
    assert "FLOW_HMAC_KEY" in worker["environment"]


def test_airflow_services_share_the_common_anchor(compose: dict[str, Any]) -> None:
    common = compose["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert service["image"] == common["image"] and service["build"] == common["build"], name
        for key, value in common["environment"].items():
            assert service["environment"].get(key) == value, (name, key)


def test_dashboards_are_served_read_only(compose: dict[str, Any]) -> None:
    web = compose["services"]["dashboards"]
    mounts = {volume.split(":")[0]: volume for volume in web["volumes"]}
    assert mounts["flow-dashboards"].endswith(":ro")
    dashboards_dir = compose["x-airflow-common"]["environment"]["FLOW_DASHBOARDS_DIR"]
    assert f"flow-dashboards:{dashboards_dir}" in compose["x-airflow-common"]["volumes"]
    conf_mount = next(v for v in web["volumes"] if v.startswith("./"))
    conf = (PROJECT_ROOT / conf_mount.split(":")[0]).read_text(encoding="utf-8")
    root = mounts["flow-dashboards"].split(":")[1]
    assert re.search(rf"^\s*root {re.escape(root)};", conf, re.MULTILINE)
    assert "location = /healthz" in conf and "/healthz" in " ".join(web["healthcheck"]["test"])


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "$")):
                used.add(source)
    assert used == declared


# ----------------------------------------------------------------------------- paths


def test_every_referenced_path_exists(compose: dict[str, Any]) -> None:
    build = compose["x-airflow-common"]["build"]
    context = PROJECT_ROOT / build["context"]
    assert context.is_dir() and (context / build["dockerfile"]).is_file()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                assert (PROJECT_ROOT / source).exists(), f"{name}: bind mount {source} does not exist"


def dockerignore_allows(relative: str) -> bool:
    """Docker's rules for the allow-list style used here: last matching pattern wins."""
    allowed = True
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(relative).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or (
            pattern.startswith("**/") and any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        ):
            allowed = negate
    return allowed


def test_dockerfile_copies_only_existing_files_the_build_context_keeps() -> None:
    copies = [args for instruction, args in dockerfile_instructions() if instruction == "COPY"]
    assert copies
    local_sources = []
    for args in copies:
        tokens = shlex.split(args)
        if any(t.startswith("--from=") for t in tokens):
            continue
        tokens = [t for t in tokens if not t.startswith("--")]
        local_sources += tokens[:-1]
    for source in local_sources:
        path = PROJECT_ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        assert dockerignore_allows(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"
    # What the pipeline reads at run time is all in the image.
    copied = {s.rstrip("/") for s in local_sources}
    for needed in (
        "requirements.lock",
        "flowlib",
        "dags",
        "sql",
        "geo",
        "sources",
        "expectations",
        "vendor/package.json",
        "vendor/package-lock.json",
    ):
        assert needed in copied, f"the image lacks {needed}"
    for excluded in (".venv", "data", ".airflow", "vendor/node_modules", ".env", ".git", "dashboards"):
        assert not dockerignore_allows(excluded), f".dockerignore lets {excluded} into the build context"


def test_dockerfile_base_and_uv_match_the_local_environment() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    bootstrap = (PROJECT_ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    want = re.search(r"^UV_VERSION=(\S+)", bootstrap, re.MULTILINE)[1]
    assert re.search(rf"^ARG UV_VERSION={re.escape(want)}$", text, re.MULTILINE), f"uv is pinned to {want} in bootstrap.sh"
    assert "uv pip sync" in text and "requirements.lock" in text
    assert "npm ci" in text, "the vendored dashboard assets are installed from the lock file"
    assert re.search(r"^USER (?!root|0\b)", text, re.MULTILINE), "the image must not run as root"


# ----------------------------------------------------------------------------- variables, secrets


def test_every_variable_is_listed_in_env_example() -> None:
    listed = env_example()
    missing = sorted(set(variables_used(compose_text())) - set(listed))
    assert not missing, f"used in docker-compose.yml but not in .env.example: {missing}"


def test_secrets_are_required_and_have_no_defaults() -> None:
    used = variables_used(compose_text())
    for name in SECRET_VARIABLES:
        assert name in used, f"{name} is not used"
        assert used[name] == {":?"}, f"{name} must always be ${{{name}:?...}}, found operators {used[name]}"
    for name in used:
        if SECRET_NAME.search(name) and name not in ("FLOW_ALERT_WEBHOOK_URL",):
            assert name in SECRET_VARIABLES, f"{name} looks secret: add it to SECRET_VARIABLES and require it"
    listed = env_example()
    for name in SECRET_VARIABLES:
        assert listed.get(name) == "", f".env.example must leave {name} empty (compose then refuses to start)"


def test_compose_refuses_to_start_without_each_secret(compose: dict[str, Any]) -> None:
    full = filled_env()
    interpolate(compose, full)  # complete .env: fine
    for name in SECRET_VARIABLES:
        for missing in ({k: v for k, v in full.items() if k != name}, {**full, name: ""}):
            with pytest.raises(KeyError, match=name):
                interpolate(compose, missing)


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert isinstance(value, str) and REQUIRED_REFERENCE.fullmatch(value), (
                    f"{name}: {key} must come from .env as ${{VAR:?...}}, not {value!r}"
                )
        for text in strings(service):
            for match in re.finditer(r"://[^:/@\s]*:(\$\{[^}]*\}|[^@\s]*)@", text):
                assert REQUIRED_REFERENCE.fullmatch(match[1]), f"{name}: literal password in {text!r}"
    for instruction, args in dockerfile_instructions():
        if instruction in ("ENV", "ARG"):
            for variable in re.findall(r"(\w+)=", args):
                assert not SECRET_NAME.search(variable), f"Dockerfile {instruction} {variable}: no secrets in the image"


def test_env_file_is_git_ignored() -> None:
    """The filled-in .env holds every secret: it must never be committed."""
    patterns = {line.strip() for line in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()}
    assert patterns & {".env", "/.env", ".env*", "/.env*"}, "add .env to .gitignore"
