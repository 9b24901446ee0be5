# triage: the e-mail triage daemon as a container.
#
#   docker build -t triage .
#   docker run -d --name triage --restart unless-stopped \
#       -v /etc/triage:/config:ro -v triage-state:/state -v triage-models:/models \
#       -e TRIAGE_SUPPORT_PASSWORD -e TRIAGE_SALES_PASSWORD -e TRIAGE_SMTP_PASSWORD triage
#
# /config holds triage.toml (see examples/docker.toml and docs/daemon.md);
# /state the ledger and the heartbeat; /models the classifier (a new named
# volume starts with the shipped model; `triage train --out /models` replaces it).
# `docker stop` sends SIGTERM: the daemon finishes the mail in hand and exits 0.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 triage \
 && useradd --system --uid 10001 --gid triage --home-dir /app --no-create-home --shell /usr/sbin/nologin triage

WORKDIR /app
COPY pyproject.toml README.md ./
COPY triage ./triage
COPY templates ./templates
COPY examples ./examples
COPY models /models

# Editable, so the templates and the default model path (/app/models) resolve next to the package.
RUN pip install --no-cache-dir --editable .

RUN ln -s /models /app/models \
 && mkdir -p /config /state \
 && chown -R triage:triage /state /models

USER triage
VOLUME ["/config", "/state", "/models"]

# Healthy while the heartbeat beside the ledger is fresh and every inbox is reachable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "triage.health", "--config", "/config/triage.toml"]

STOPSIGNAL SIGTERM
CMD ["triage", "run", "--config", "/config/triage.toml"]
