# pharos: one image for `pharos server` and `pharos agent` (see docs/kubernetes.md).
# The steps are the README's: build the UI (npm ci && npm run build), then `pip install .`.

# 1. the web UI (TypeScript + Vite) into src/pharos/web/static
FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

# 2. pharos and its dependencies into a virtualenv
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/pharos
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
COPY --from=ui /src/src/pharos/web/static/ src/pharos/web/static/
RUN /opt/pharos/bin/pip install . && /opt/pharos/bin/pharos version

# 3. the runtime: slim, no build tools, non-root (the agent DaemonSet overrides the user
#    to read root-owned log files, with every capability dropped)
FROM python:3.11-slim-bookworm
COPY --from=build /opt/pharos /opt/pharos
RUN useradd --system --uid 10001 --user-group --home-dir /data pharos \
    && mkdir -p /data && chown pharos:pharos /data
ENV PATH=/opt/pharos/bin:$PATH PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9494 9495
ENTRYPOINT ["pharos"]
CMD ["server", "--data-dir", "/data", "--listen", "0.0.0.0:9494"]
