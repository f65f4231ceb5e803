# The mcp-reconciler image: the operator, the in-cluster gateway, and the bridge that serves
# stdio MCP servers over streamable HTTP. Also the default image of stdio servers declared
# with a `command` and no `image`: the servers of the `examples` extra (mcp-server-time,
# mcp-server-fetch) are installed; build on this image to add others:
#
#   FROM ghcr.io/mcp-reconciler/mcp-reconciler:0.1.0
#   RUN pip install --no-cache-dir my-mcp-server
#
# Build: docker build -t ghcr.io/mcp-reconciler/mcp-reconciler:0.1.0 .

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[examples]'

FROM python:3.11-slim
LABEL org.opencontainers.image.title="mcp-reconciler" \
      org.opencontainers.image.description="GitOps for MCP servers: operator, gateway and stdio bridge" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MCP_RECONCILER_STATE_DIR=/var/lib/mcp-reconciler
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'mcp-reconciler[examples]' \
    && rm -rf /wheels \
    && mkdir -p /var/lib/mcp-reconciler \
    && chown 65532:65532 /var/lib/mcp-reconciler
# A numeric non-root user, so that `runAsNonRoot` can be verified by the kubelet.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["mcp-reconciler"]
CMD ["operator", "--all-namespaces"]
