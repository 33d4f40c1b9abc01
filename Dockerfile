# The Switchyard service and its command-line tools, for docker compose.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY handlers handlers
COPY producers producers
COPY streams streams
COPY bench bench
COPY faults faults
COPY switchyard switchyard
COPY LICENSE restate.toml ./
RUN pip install --no-cache-dir .
EXPOSE 9080
# Off loopback the service refuses unsigned requests unless it has Restate's identity key
# (SWITCHYARD_SERVICE__IDENTITY_KEYS or _IDENTITY_DIR; docker-compose.yml wires the latter).
ENV SWITCHYARD_SERVICE__BIND=0.0.0.0:9080
CMD ["switchyard", "serve"]
