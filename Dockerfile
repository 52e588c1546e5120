# The eaflow image: one image for every production role, chosen by the command
# (`eaflow db upgrade`, `eaflow api --host 0.0.0.0 --port 8000`, `eaflow worker`).
# Configured by the EAFLOW_* environment variables only (README, "Settings").
#   docker build -t eaflow .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project from this source tree (not editable: the package data, mail templates and
# Alembic migrations, go into site-packages), plus the PostgreSQL driver that
# EAFLOW_DATABASE_URL=postgresql+psycopg://... needs.
COPY pyproject.toml /tmp/eaflow-src/
COPY src /tmp/eaflow-src/src
RUN pip install /tmp/eaflow-src "psycopg[binary]>=3.2" \
 && rm -rf /tmp/eaflow-src \
 && eaflow --help > /dev/null

# Never root. EAFLOW_DATA_DIR is unused with PostgreSQL but must be writable.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/eaflow --create-home \
        --shell /usr/sbin/nologin eaflow
ENV EAFLOW_DATA_DIR=/var/lib/eaflow
USER eaflow
WORKDIR /var/lib/eaflow

EXPOSE 8000
# For the api (`eaflow api --host 0.0.0.0 --port 8000`): /healthz answers 200 when the API, the
# database and Temporal answer, 503 otherwise. docker-compose.yml gives the worker its own check
# and disables this one for the one-shot migrate.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["eaflow"]
CMD ["--help"]
