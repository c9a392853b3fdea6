"""A real Airflow 3 CeleryExecutor stack without Docker, for ``tests/test_distributed.py``.

It mirrors ``docker-compose.yml`` process for process (see docs/deployment.md): a fresh
metadata database on the local PostgreSQL, a dedicated Redis database as the Celery broker,
the PostgreSQL database as the Celery result backend, a fresh ``AIRFLOW_HOME``, then
``airflow db migrate``, the ``duckdb_writer`` pool, the scheduler, the dag-processor, the
api-server on a free port and N Celery workers with distinct hostnames.

Every long-running service starts in its own session (process group) and is stopped by its
process id, together with every process it spawned (task processes run in groups of their
own); the database is dropped and the Redis database flushed in ``stop()``, which runs even
when a start step or the test fails.

Run by hand to poke at a stack: ``python tests/distributed_stack.py`` (prints the URLs and
the admin password, Ctrl-C stops and cleans up).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"

POSTGRES = {
    "host": os.environ.get("FLOW_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("FLOW_TEST_PG_PORT", "5432")),
    "user": os.environ.get("FLOW_TEST_PG_USER", "postgres"),
}
REDIS = {
    "host": os.environ.get("FLOW_TEST_REDIS_HOST", "127.0.0.1"),
    "port": int(os.environ.get("FLOW_TEST_REDIS_PORT", "6379")),
}
#: Redis databases the stack may claim (0 is left to whoever else uses the server).
REDIS_DB_CHOICES = range(8, 16)
REDIS_CLAIM_KEY = "nagasaki-tourism-flow:distributed-test:owner"

DEFAULT_WORKERS = ("worker-a", "worker-b")
#: Byte-code cache shared by every process of every stack (the venv stays untouched).
PYCACHE_PREFIX = Path(tempfile.gettempdir()) / "nagasaki-flow-pycache"


class StackError(RuntimeError):
    """A stack step failed; the message carries the tail of the relevant log."""


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: the name each worker was started with.

    Both workers share this machine, so the FQDN would not tell them apart; the task
    runner records this value in ``task_instance.hostname``.
    """
    return os.environ.get("FLOW_STACK_HOSTNAME") or socket.getfqdn()


# ----------------------------------------------------------------------------- probes


def postgres_problem() -> str | None:
    """None when the local PostgreSQL accepts the test user, else why not."""
    try:
        import psycopg2
    except ImportError as exc:  # pragma: no cover - psycopg2-binary is in the lock
        return f"psycopg2 is not importable: {exc}"
    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **POSTGRES).close()
    except psycopg2.Error as exc:
        return f"PostgreSQL at {POSTGRES['host']}:{POSTGRES['port']} is not reachable: {str(exc).strip()}"
    return None


def redis_problem() -> str | None:
    """None when the local Redis answers PING, else why not."""
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - redis is in the lock
        return f"redis-py is not importable: {exc}"
    try:
        redis.Redis(socket_connect_timeout=3, **REDIS).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS['host']}:{REDIS['port']} is not reachable: {exc}"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"


def clean_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any Airflow or pipeline setting it may carry.

    ``scripts/airflow_env.sh`` exports a SQLite metadata DB and a local AIRFLOW_HOME; a
    stack must see only its own settings. Byte-code is cached outside the venv.
    """
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key.startswith(("AIRFLOW_", "AIRFLOW__", "FLOW_", "_AIRFLOW")):
            del env[key]
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_PREFIX)
    env["GX_ANALYTICS_ENABLED"] = "False"
    return env


def python_path(*extra: Path) -> str:
    """The project root (and ``extra``) first, then whatever PYTHONPATH the caller had."""
    entries = [str(PROJECT_ROOT), *map(str, extra), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(e for e in entries if e))


def start_celery_executor_probe(env: dict[str, str]) -> subprocess.Popen:
    """Import the CeleryExecutor in the background (it takes seconds); see the next function."""
    return subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-c",
            "import celery, airflow.providers.celery.executors.celery_executor_utils; print(celery.__version__)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def celery_executor_problem(probe: subprocess.Popen, timeout: float = 300) -> str | None:
    """None when the CeleryExecutor imported with the installed packages, else the error.

    apache-airflow-providers-celery 3.26.0 imports ``retry`` from
    ``celery.backends.database``, which celery 5.7.0 removed: with that pair neither the
    scheduler nor a worker can start, here or in the Docker image.
    """
    _, err = probe.communicate(timeout=timeout)
    if probe.returncode == 0:
        return None
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {probe.returncode}"


# ----------------------------------------------------------------------------- processes


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:  # noqa: BLE001 - the process may be gone already
        return []


def stop_process_trees(processes: Sequence[subprocess.Popen], grace: float = 20.0) -> None:
    """SIGTERM each service's process group and every group its descendants started, all at
    once, then SIGKILL whatever is left after ``grace`` seconds.

    Only processes this stack started are signalled: the services (session leaders, so
    their pgid is their pid) and their descendants, found before the first signal.
    """
    groups = set()
    for process in processes:
        if process.poll() is None:
            groups.add(process.pid)
        for pid in _descendants(process.pid):
            try:
                groups.add(os.getpgid(pid))
            except ProcessLookupError:
                pass
    groups.discard(os.getpgrp())
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if all(p.poll() is not None for p in processes) and not any(_group_alive(g) for g in groups):
                return
            time.sleep(0.2)
    for process in processes:
        process.poll()


def _group_alive(group: int) -> bool:
    """True while any process of the group exists (zombies included; the wait is bounded)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- the stack


@dataclass
class AirflowStack:
    """One throw-away Airflow deployment on the local PostgreSQL and Redis."""

    root: Path
    flow_env: dict[str, str] = field(default_factory=dict)
    workers: Sequence[str] = DEFAULT_WORKERS
    worker_concurrency: int = 2
    admin_user: str = "admin"

    def __post_init__(self) -> None:
        self.stack_id = f"{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:8]}"
        self.database = f"flow_dist_{self.stack_id}"
        self.queue = f"flow_dist_{self.stack_id}"
        self.airflow_home = self.root / "airflow"
        self.logs_dir = self.root / "logs"
        self.api_port = free_port()
        self.redis_db: int | None = None
        self.services: list[Service] = []
        self.admin_password = secrets.token_urlsafe(18)
        self._database_created = False
        self.timings: dict[str, float] = {}

    # -- configuration -------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _pg_url(self, driver: str) -> str:
        return f"{driver}://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{self.database}"

    @property
    def env(self) -> dict[str, str]:
        """Every setting as an AIRFLOW__SECTION__KEY variable, as in docker-compose.yml."""
        assert self.redis_db is not None, "claim a Redis database first"
        env = clean_environment()
        env.update(self.flow_env)
        env.update(
            {
                "PYTHONPATH": python_path(TESTS_DIR),
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Tokyo",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
                "AIRFLOW__CORE__FERNET_KEY": self._fernet_key,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.admin_user}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self._pg_url("postgresql+psycopg2"),
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS['host']}:{REDIS['port']}/{self.redis_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": self._pg_url("db+postgresql"),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                # A queue of our own: even a shared Redis database could not leak tasks to
                # another stack's workers.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self._api_secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                # Only triggered runs: the cron schedule would add a run for "yesterday".
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # A slot is held ~5 s after each task by default; 1 s keeps the test short.
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            }
        )
        return env

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json"

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def prepare(self) -> None:
        """Redis db, database, AIRFLOW_HOME, admin password file, migrated schema."""
        self._fernet_key = _fernet_key()
        self._jwt_secret = secrets.token_urlsafe(32)
        self._api_secret = secrets.token_urlsafe(32)
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        PYCACHE_PREFIX.mkdir(parents=True, exist_ok=True)
        self._claim_redis_db()
        self._create_database()
        # What the compose init service does: admin password file, migrate (pool: start_services).
        self.passwords_file.write_text(json.dumps({self.admin_user: self.admin_password}) + "\n", encoding="utf-8")
        self.passwords_file.chmod(0o600)
        with self._timed("db_migrate"):
            self.airflow("db", "migrate", timeout=300)

    def start_services(self) -> None:
        """The long-running processes, plus the pool (created meanwhile, needed before a run)."""
        self._pool_command = self.start_command("pools", "set", "duckdb_writer", "1", "DuckDB allows one writer process")
        self.start_service("dag-processor", ["dag-processor"])
        self.start_service("scheduler", ["scheduler"])
        self.start_service("api-server", ["api-server", "--port", str(self.api_port), "--host", "127.0.0.1"])
        for name in self.workers:
            self.start_service(
                name,
                [
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{name}@%h",
                    "--queues",
                    self.queue,
                    "--concurrency",
                    str(self.worker_concurrency),
                    "--skip-serve-logs",
                    "--without-mingle",
                    "--without-gossip",
                ],
                extra_env={
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "distributed_stack.worker_hostname",
                    "FLOW_STACK_HOSTNAME": name,
                },
            )

    def start_command(self, *args: str) -> subprocess.Popen:
        """A one-shot CLI command in the background; ``finish_command`` collects it."""
        return subprocess.Popen(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @staticmethod
    def finish_command(process: subprocess.Popen, timeout: float = 180) -> str:
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        if process.returncode != 0:
            raise StackError(f"`{shlex.join(map(str, process.args))}` exited {process.returncode}:\n{out[-3000:]}")
        return out

    def wait_until_ready(self, dag_id: str, timeout: float = 180) -> None:
        """The DAG is serialized, the API answers and every worker said "ready"."""
        with self._timed("services_ready"):
            self.finish_command(self._pool_command, timeout)
            self.wait_for(lambda: self._dag_serialized(dag_id), timeout, f"DAG {dag_id} to be parsed and serialized")
            self.wait_for(self._api_healthy, timeout, "the api-server health endpoint")
            for name in self.workers:
                log = self.logs_dir / f"{name}.log"
                self.wait_for(
                    lambda log=log: " ready." in log.read_text(errors="replace") if log.exists() else False,
                    timeout,
                    f"Celery worker {name} to be ready",
                )

    def stop(self) -> None:
        """Stop every service (all at once), drop the database, flush Redis."""
        with self._timed("stop"):
            self._stop()

    def _stop(self) -> None:
        errors = []
        pool_command = getattr(self, "_pool_command", None)
        if pool_command is not None and pool_command.poll() is None:
            pool_command.kill()
            pool_command.wait()
        try:
            stop_process_trees([service.process for service in self.services])
        except Exception as exc:  # noqa: BLE001 - keep cleaning up
            errors.append(f"stopping the services: {exc}")
        if self._database_created:
            try:
                self._drop_database()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"dropping {self.database}: {exc}")
        if self.redis_db is not None:
            try:
                import redis

                redis.Redis(db=self.redis_db, **REDIS).flushdb()
                self.redis_db = None
            except Exception as exc:  # noqa: BLE001
                errors.append(f"flushing Redis db {self.redis_db}: {exc}")
        if errors:
            raise StackError("; ".join(errors))

    # -- commands ----------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run one ``airflow`` CLI command against this stack; raise with its output on failure."""
        argv = [str(VENV_BIN / "airflow"), *args]
        result = subprocess.run(
            argv, env=env or self.env, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )
        if result.returncode != 0:
            raise StackError(
                f"`airflow {shlex.join(args)}` exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def start_service(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> Service:
        log = self.logs_dir / f"{name}.log"
        env = self.env
        env.update(extra_env or {})
        argv = [str(VENV_BIN / "airflow"), *args]
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.root,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        service = Service(name, argv, log, process)
        self.services.append(service)
        return service

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_services()
            try:
                if predicate():
                    return
            except Exception:  # noqa: BLE001 - not ready yet (e.g. table not there)
                pass
            if time.monotonic() > deadline:
                raise StackError(f"timed out after {timeout:.0f} s waiting for {what}.\n{self.diagnostics()}")
            time.sleep(interval)

    def check_services(self) -> None:
        dead = [s for s in self.services if not s.alive()]
        if dead:
            raise StackError(
                "service(s) exited early: "
                + ", ".join(f"{s.name} (exit {s.process.returncode})" for s in dead)
                + "\n"
                + self.diagnostics(dead)
            )

    def diagnostics(self, services: Iterable[Service] | None = None, lines: int = 25) -> str:
        return "\n".join(f"--- {s.name} ({s.log}) ---\n{tail(s.log, lines)}" for s in (services or self.services))

    # -- metadata database ----------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        import psycopg2
        import psycopg2.extras

        with psycopg2.connect(dbname=self.database, connect_timeout=5, **POSTGRES) as con:
            with con.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(sql, params)
                rows = [dict(row) for row in cur.fetchall()]
        con.close()
        return rows

    def dag_runs(self, dag_id: str, run_ids: Sequence[str]) -> dict[str, str]:
        rows = self.query("select run_id, state from dag_run where dag_id = %s and run_id = any(%s)", (dag_id, list(run_ids)))
        return {row["run_id"]: row["state"] for row in rows}

    def wait_for_runs(self, dag_id: str, run_ids: Sequence[str], timeout: float) -> dict[str, str]:
        """Wait until every run finished (success or failed); return run_id -> state."""
        states: dict[str, str] = {}

        def finished() -> bool:
            states.update(self.dag_runs(dag_id, run_ids))
            return len(states) == len(run_ids) and all(s in ("success", "failed") for s in states.values())

        with self._timed("dag_runs"):
            self.wait_for(finished, timeout, f"DAG runs {list(run_ids)} to finish (last states {states})", interval=2)
        return states

    def task_instances(self, dag_id: str, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self.query(
            "select run_id, task_id, map_index, state, hostname, try_number, pool, queue, "
            "extract(epoch from (end_date - start_date)) as seconds "
            "from task_instance where dag_id = %s and run_id = any(%s) order by start_date",
            (dag_id, list(run_ids)),
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        logs = sorted((self.airflow_home / "logs").glob(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/**/*.log"))
        return "\n".join(tail(path, 60) for path in logs[-1:])

    def _dag_serialized(self, dag_id: str) -> bool:
        return bool(self.query("select 1 from serialized_dag where dag_id = %s", (dag_id,)))

    def _api_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def login(self) -> str:
        """A JWT for the admin user, as the UI gets it: proves the password file works."""
        request = urllib.request.Request(
            f"{self.api_url}/auth/token",
            data=json.dumps({"username": self.admin_user, "password": self.admin_password}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["access_token"]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the public REST API (``/api/v2``) as the admin user, as the UI does."""
        if not getattr(self, "_token", None):
            self._token = self.login()
        request = urllib.request.Request(
            f"{self.api_url}/api/v2/{path.lstrip('/')}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise StackError(f"{method} {path} answered {exc.code}: {exc.read()[:2000]!r}") from exc

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, logical_date: str, conf: dict[str, Any]) -> dict[str, Any]:
        """One manual run, like ``airflow dags trigger DAG --run-id .. --logical-date .. --conf ..``."""
        return self.api("POST", f"dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf})

    def _on_server(self, statement: str) -> None:
        """One statement on the server's maintenance database, outside a transaction
        (create and drop database refuse to run inside one)."""
        import psycopg2

        con = psycopg2.connect(dbname="postgres", connect_timeout=5, **POSTGRES)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(statement)
        finally:
            con.close()

    def _create_database(self) -> None:
        self._on_server(f'create database "{self.database}"')
        self._database_created = True

    def _drop_database(self) -> None:
        self._on_server(f'drop database if exists "{self.database}" with (force)')
        self._database_created = False

    def _claim_redis_db(self) -> None:
        """An empty Redis database of our own, marked so that a parallel stack skips it."""
        import redis

        choices = list(REDIS_DB_CHOICES)
        random.shuffle(choices)
        for number in choices:
            client = redis.Redis(db=number, **REDIS)
            if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, self.stack_id, nx=True):
                self.redis_db = number
                return
        raise StackError(f"no empty Redis database among {list(REDIS_DB_CHOICES)} on {REDIS['host']}:{REDIS['port']}")

    # -- helpers -------------------------------------------------------------------

    def _timed(self, label: str):
        stack = self

        class _Timer:
            def __enter__(self) -> None:
                self.started = time.monotonic()

            def __exit__(self, *exc: object) -> None:
                stack.timings[label] = round(time.monotonic() - self.started, 1)

        return _Timer()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Start a throw-away distributed Airflow stack (Ctrl-C stops it).")
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="flow-stack-"))
    flow_env = {"FLOW_DATA_DIR": str(root / "data"), "FLOW_DASHBOARDS_DIR": str(root / "dashboards"), "FLOW_DEMO_MODE": "true"}
    with AirflowStack(root, flow_env) as stack:
        stack.prepare()
        stack.start_services()
        stack.wait_until_ready("nightly_flow")
        print(
            f"stack up: {stack.api_url} user {stack.admin_user} password {stack.admin_password}; "
            f"AIRFLOW_HOME={stack.airflow_home} database {stack.database} redis db {stack.redis_db}"
        )
        try:
            while True:
                time.sleep(5)
                stack.check_services()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
