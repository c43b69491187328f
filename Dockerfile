# costsvc: one image for the API, the Celery worker, the scheduler and the one-shot
# migration (docker-compose.yml).  Two stages: the first builds the wheel and installs it
# with its dependencies into a virtualenv; the second copies only that virtualenv — no
# source tree, no build tools, no editable install — and runs as an unprivileged user.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY costsvc ./costsvc
COPY tariffs ./tariffs
COPY jobs ./jobs
COPY sql ./sql
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/costsvc \
 && /opt/costsvc/bin/pip install /dist/costsvc-*.whl

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/costsvc/bin:$PATH \
    COSTSVC_DATA_DIR=/data

COPY --from=build /opt/costsvc /opt/costsvc
RUN useradd --create-home --uid 10001 costsvc \
 && mkdir -p /data /imports \
 && chown costsvc /data

# Not root: Celery refuses to be comfortable as root, and nothing here needs it.
USER 10001
WORKDIR /home/costsvc
EXPOSE 8000
# No HEALTHCHECK here: the worker, beat and migrate containers serve no HTTP.  The API's
# (GET /ready) is in docker-compose.yml.
CMD ["costsvc", "serve", "--host", "0.0.0.0"]
