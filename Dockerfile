# The Potluck app image: `potluck serve` by default; the same image runs the migrations
# (`potluck setup`), the mail worker (`potluck worker`) and makes the local TLS certificate
# (deploy/make-certs.sh). Settings are environment variables, as everywhere (docs/deploy.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POTLUCK_ENV=production \
    MIGRATIONS_DIR=/app/migrations \
    MEDIA_ROOT=/data/media \
    POTLUCK_INSTANCE_PATH=/data/instance \
    PORT=8000

# openssl for deploy/make-certs.sh; curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, pinned by the constraints file, so code changes reuse this layer.
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install -c constraints.txt .
COPY migrations ./migrations
COPY deploy ./deploy

RUN useradd --system --uid 10001 --no-create-home potluck \
    && mkdir -p /data/media /data/instance /certs \
    && chown potluck: /data/media /data/instance /certs
USER potluck

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null || exit 1
CMD ["sh", "-c", "exec potluck serve --host 0.0.0.0 --port \"$PORT\""]
