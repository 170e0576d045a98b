# The relay on the official Deno image. Dependencies are cached in their own layer, so a
# code change does not re-download them; the process runs as the image's non-root user.
FROM denoland/deno:2.9.6

WORKDIR /app
ENV DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1

# Dependency layer: only the manifest and lock, so code changes reuse it.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY src/ src/
COPY schema/ schema/
# Type-check and cache the entry graph at build time, then hand everything to the user.
RUN deno cache --frozen src/main.ts && chown -R deno:deno /app /deno-dir

USER deno
EXPOSE 8080
ENV PORT=8080

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8080') + '/healthz'); Deno.exit(r.ok ? 0 : 1)"]

# Pass a config with RELAY_CONFIG (a mounted file) or RELAY_CONFIG_JSON; none = demo mode.
# Check a config without connecting anywhere (prints every problem or "config ok"; exit 2/0):
#   docker run --rm -v "$PWD/relay.json:/app/relay.json:ro" -e DRP_PASSWORD IMAGE \
#     run --allow-net --allow-env --allow-read --frozen src/main.ts --check --config relay.json
# Prometheus metrics are at /metrics (server.metrics); the status page at / (server.statusPage).
CMD ["run", "--allow-net", "--allow-env", "--allow-read", "--frozen", "src/main.ts"]
