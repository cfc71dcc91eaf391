# FLEXUS Guardia: a small, non-root image. Data (SQLite database, backups, .env,
# protocol.toml) lives in the /data volume, which is FLEXUS_HOME.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLEXUS_HOME=/data \
    HTTP_HOST=127.0.0.1 \
    HTTP_PORT=8080

WORKDIR /app
# Dependencies first (a layer that changes only with the lock), exactly as locked.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin flexus \
    && mkdir -p /data \
    && chown flexus:flexus /data

USER flexus
VOLUME ["/data"]

# 200 only with the database reachable, Telegram answering and nothing overdue (GET /healthz).
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8080') + '/healthz', timeout=8)"]

CMD ["flexus-bot", "run"]
