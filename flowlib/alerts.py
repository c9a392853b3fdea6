"""Failure and late-data notifications: always logged, posted to a webhook when set.

Nobody watches the nightly run, so a failure must reach the data desk by itself. The
message carries the DAG, task, day and the error's first line, never data values.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from flowlib.config import get_settings

log = logging.getLogger("flowlib.alerts")


def notify(event: str, message: str, details: dict[str, Any] | None = None) -> bool:
    """Log the event and post it to FLOW_ALERT_WEBHOOK_URL; True when the post succeeded."""
    from flowlib.parsing import printable

    # producer text (file names) in a message must not forge log lines or cut the alert
    message = printable(message)
    details = {k: printable(v) if isinstance(v, str) else v for k, v in (details or {}).items()}
    payload = {"event": event, "message": message, **details}
    log.error("ALERT %s: %s %s", event, message, json.dumps(details or {}, ensure_ascii=False, default=str))
    url = get_settings().webhook_url
    if not url:
        return False
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - URL is operator config
            return 200 <= response.status < 300
    except OSError as exc:
        log.error("could not post the alert to the webhook: %s", exc)
        return False


def on_task_failure(context: dict[str, Any]) -> None:
    """Airflow on_failure_callback: one clear line per failed task."""
    ti = context.get("task_instance") or context.get("ti")
    exception = context.get("exception")
    first_line = str(exception).splitlines()[0] if exception and str(exception).strip() else "unknown error"
    notify(
        "task_failed",
        f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed: {first_line}",
        {
            "dag_id": getattr(ti, "dag_id", None),
            "task_id": getattr(ti, "task_id", None),
            "run_id": getattr(ti, "run_id", None),
            "try_number": getattr(ti, "try_number", None),
        },
    )
