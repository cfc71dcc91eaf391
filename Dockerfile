# FLEXUS Guardia: a small, non-root image. Data (SQLite database, backups, .env,
# protocol.toml) lives in the /data volume, which is FLEXUS_HOME.
#
# Installed the way tests/e2e/test_installed.py installs it: a wheel built from the source,
# then the locked dependencies and that wheel (not editable) in the image. No source tree is
# left in the image: the migrations and the protocol file ship inside the package.
FROM python:3.12-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY alembic ./alembic
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLEXUS_HOME=/data \
    HTTP_HOST=127.0.0.1 \
    HTTP_PORT=8080

# Dependencies first (a layer that changes only with the lock), exactly as locked.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin flexus \
    && mkdir -p /data \
    && chown flexus:flexus /data

USER flexus
WORKDIR /data
VOLUME ["/data"]

# 200 only with the database reachable, Telegram answering and nothing overdue (GET /healthz).
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8080') + '/healthz', timeout=8)"]

CMD ["flexus-bot", "run"]
