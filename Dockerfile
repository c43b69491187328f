# costsvc: one image for the API, the Celery worker and the scheduler (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COSTSVC_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY costsvc ./costsvc
COPY tariffs ./tariffs
COPY jobs ./jobs
COPY sql ./sql
RUN pip install -e . \
 && useradd --create-home --uid 10001 costsvc \
 && mkdir -p /data /imports \
 && chown costsvc /data

# Not root: Celery refuses to be comfortable as root, and nothing here needs it.
USER costsvc
EXPOSE 8000
CMD ["costsvc", "serve", "--host", "0.0.0.0"]
