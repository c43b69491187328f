"""Observability shared by every process: structured logs (``logs``) and Prometheus
metrics (``metrics``).  Below everything but the settings, so that any layer may log
with context or count what it does; nothing here knows HTTP or Celery."""
