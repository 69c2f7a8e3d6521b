# syntax=docker/dockerfile:1
# Build: docker build -t photo-studio .   Run: see compose.yaml.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml README.md ./
RUN /venv/bin/pip install .

FROM python:3.11-slim AS runtime
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DEBUG=false VAR_DIR=/data STATIC_ROOT=/app/staticfiles
RUN useradd --system --uid 10001 --home-dir /app studio && mkdir -p /data && chown studio /data
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=studio . .
# collectstatic needs settings to import, not real secrets.
RUN SECRET_KEY=build-only VAULT_KEYS=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput
USER studio
EXPOSE 8000
# The access log leaves out the request line: share-link URLs (/s/<token>/...) carry their secret
# token in the path, and a log is no place for it. Client, time, method, status, bytes, seconds.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s\" %(s)s %(B)s %(L)s"]
