# syntax=docker/dockerfile:1
# paybot image: `docker build -t paybot:local .` (docker compose builds it too; docs/deploy.md).
# The entry point is `python -m bot`; the command picks run (default), migrate, reconcile or
# check-config. No source tree, compiler or pip in the final image; it runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# The runtime venv gets no pip of its own: the base image's pip installs into it (--python).
RUN python -m venv --without-pip /opt/venv
# Dependencies first, from the hash-pinned lock alone, in their own layer: rebuilt only when the
# lock changes. --only-binary: wheels only, nothing is compiled (slim has no compiler).
COPY requirements.lock /tmp/requirements.lock
RUN python -m pip --python /opt/venv/bin/python install \
        --require-hashes --only-binary=:all: -r /tmp/requirements.lock
# Then the project, as a wheel (it carries migrations/ as core._migrations); its dependencies
# are already there, so --no-deps, and `pip check` proves the lock satisfies them.
COPY pyproject.toml setup.py README.md /src/
COPY core /src/core
COPY bot /src/bot
COPY migrations /src/migrations
RUN python -m pip wheel --no-deps --wheel-dir /tmp/dist /src \
    && python -m pip --python /opt/venv/bin/python install --no-deps /tmp/dist/*.whl \
    && python -m pip --python /opt/venv/bin/python check

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 paybot \
    && useradd --system --uid 10001 --gid paybot --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin paybot
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# An empty, root-owned working directory: nothing here is read (settings come from the
# environment) and nothing is written.
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
