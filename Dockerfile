# syntax=docker/dockerfile:1
# Build: docker build -t photo-studio .   Run: see compose.yaml and the README's Production section.
#
# BASE is any Debian 12 (bookworm) image. With a registry, the default is fine; without one, make
# a base from Debian's packages and pass it in (.ci/container does this):
#   debootstrap --variant=minbase bookworm rootfs http://deb.debian.org/debian
#   tar -C rootfs -c . | podman import - localhost/debian-base:bookworm
#   podman build --isolation chroot --build-arg BASE=localhost/debian-base:bookworm -t photo-studio .
# Python is Debian's own 3.11, so the image never needs a Python image from a registry.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS python
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/*
# /var/cache/apt also holds apt's package caches (pkgcache.bin, srcpkgcache.bin): 76 MB the image
# never uses (slim images configure them away; a debootstrap base does not).

FROM python AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Behind a TLS-inspecting proxy, pip needs the proxy's CA: mount the bundle at build time
# (`podman build -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
# --build-arg PIP_CERT=/run/host-ca.crt`); it never lands in a layer.
ARG PIP_CERT=
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /venv
WORKDIR /src
# Only the dependency list: this layer is rebuilt when pyproject.toml changes, not on every edit
# (an empty README stands in for the one pyproject names, so editing the docs rebuilds nothing).
COPY pyproject.toml ./
RUN touch README.md \
    && env ${PIP_CERT:+PIP_CERT=$PIP_CERT} /venv/bin/pip install --quiet . && /venv/bin/pip uninstall --quiet --yes photo-studio pip \
    && find /venv -name '__pycache__' -prune -exec rm -rf {} + \
    && find /venv/lib/python3.11/site-packages -type d -name tests -prune -exec rm -rf {} +

FROM python AS runtime
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DEBUG=false VAR_DIR=/data STATIC_ROOT=/app/staticfiles
RUN useradd --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin studio && mkdir -p /data && chown studio /data
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=root:root . .
# collectstatic needs settings to import, not real secrets.
RUN SECRET_KEY=build-only VAULT_KEYS=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m config.catalogs compile
USER studio
EXPOSE 8000
VOLUME ["/data"]
# The access log leaves out the request line: share-link URLs (/s/<token>/...) carry their secret
# token in the path, and a log is no place for it. Client, time, method, status, bytes, seconds.
# No control socket: nothing here drives gunicorn at run time, and /app is not the user's to write.
# Other roles run the same image with another command (compose.yaml): the two workers, beat,
# `python manage.py migrate`, and `python manage.py runsandbox` for a trial without vendors.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--no-control-socket", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s\" %(s)s %(B)s %(L)s"]
