# syntax=docker/dockerfile:1
# Nagasaki Tourism Flow: one image for every Airflow service of docker-compose.yml
# (api-server, scheduler, dag-processor, triggerer, Celery workers, init).
#
#   docker compose build            # or: docker build -t nagasaki-tourism-flow .
#
# Stage 1 installs the pinned front-end packages the dashboards vendor (no CDN on LGWAN:
# flowlib/assets.py copies them from vendor/node_modules when the dashboards are
# published). Stage 2 is python:3.11-slim with the locked Python environment, installed
# with the same uv version as scripts/bootstrap.sh, and the files the pipeline reads at
# run time. No secret is baked in: every key and password comes from .env at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------- front-end packages
FROM ${NODE_IMAGE} AS vendor-assets
WORKDIR /build/vendor
COPY vendor/package.json vendor/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

# Keep in step with UV_VERSION in scripts/bootstrap.sh (tests/test_compose.py checks).
ARG UV_VERSION=0.13.8
ARG AIRFLOW_UID=50000

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    PYTHONPATH=/opt/flow \
    GX_ANALYTICS_ENABLED=False \
    TZ=Asia/Tokyo

# tini reaps task processes and forwards signals (warm Celery shutdown); curl serves the
# healthchecks of docker-compose.yml.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini curl ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid "${AIRFLOW_UID}" --gid 0 --home-dir /opt/airflow --create-home --shell /bin/bash airflow

# The locked environment (requirements.lock), exactly as scripts/bootstrap.sh builds .venv.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --quiet --no-cache-dir "uv==${UV_VERSION}" \
    && /opt/venv/bin/uv pip sync --python /opt/venv/bin/python --compile-bytecode /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# The project: flowlib is imported from /opt/flow (PYTHONPATH) so that it finds sql/,
# geo/, sources/ and expectations/ next to it, as in a checkout.
WORKDIR /opt/flow
COPY pyproject.toml ./
COPY flowlib/ flowlib/
COPY dags/ dags/
COPY sql/ sql/
COPY geo/ geo/
COPY sources/ sources/
COPY expectations/ expectations/
COPY vendor/package.json vendor/package-lock.json vendor/
COPY --from=vendor-assets /build/vendor/node_modules vendor/node_modules
COPY deploy/airflow/ deploy/airflow/
RUN python -m compileall -q flowlib dags \
    && mkdir -p /opt/airflow/logs /opt/airflow/secrets /srv/flow/landing /srv/flow/data /srv/flow/dashboards \
    && chown -R "${AIRFLOW_UID}:0" /opt/airflow /srv/flow \
    && chmod -R g=u /opt/airflow /srv/flow

USER ${AIRFLOW_UID}
WORKDIR /opt/airflow
ENTRYPOINT ["/usr/bin/tini", "--", "airflow"]
CMD ["version"]
