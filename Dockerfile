# syntax=docker/dockerfile:1
# One image for every Dandelion service; each Kubernetes Deployment runs its own command
# (`dandelion api`, `dandelion worker ingest`, ..., see deploy/k8s).
#
# The base is pinned to an exact Python release on Debian bookworm. Release builds pin its
# digest as well: --build-arg PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- builder: resolve nothing, install the locked versions into a virtualenv ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never
# The same uv as the Makefile's UV_VERSION.
RUN python -m pip install uv==0.13.9 \
    && python -m venv /opt/dandelion
WORKDIR /src
# Dependencies first, so this layer is rebuilt only when the lock changes. The lock also
# holds the dev extra (pytest, mypy, the dandi client...): applied as constraints, it pins
# every runtime package to its locked version and leaves the dev tools out of the image.
COPY requirements.lock pyproject.toml ./
RUN uv pip install --python /opt/dandelion/bin/python \
        --constraint requirements.lock --requirement pyproject.toml
COPY README.md ./
COPY libs ./libs
COPY services ./services
RUN uv pip install --python /opt/dandelion/bin/python --no-deps .

# ---- runtime: the virtualenv on a clean base; no compilers, no uv, no sources ----
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
# HOME and the caches point at /tmp: the root filesystem is read-only in Kubernetes and /tmp
# is an emptyDir there. Bytecode was compiled in the builder, so none is written at run time.
ENV PATH=/opt/dandelion/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache
RUN groupadd --system --gid ${UID} dandelion \
    && useradd --system --uid ${UID} --gid ${UID} --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin dandelion
COPY --from=builder /opt/dandelion /opt/dandelion
USER 10001:10001
WORKDIR /tmp
# api, search-api, worker /metrics (DANDELION_WORKER__METRICS_PORT in deploy/k8s).
EXPOSE 8000 8001 9100
# The process is PID 1 and gets SIGTERM directly (uvicorn drains, arq finishes its jobs).
ENTRYPOINT ["dandelion"]
CMD ["--help"]
