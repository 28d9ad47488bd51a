# SpyCloud relay for Cisco XDR as a container: Node 24 LTS, production
# dependencies only, runs as the unprivileged `node` user, listens on 9090
# (and serves /metrics on 9464, for the inside network: never publish it).
# dist/server.js is one bundled file (it starts faster); the production
# dependencies are there for the token tool, dist/cli.js.
#   docker build -t spycloud-relay .
#   docker run -d --name spycloud-relay -p 9090:9090 --stop-timeout 30 spycloud-relay

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production \
    PORT=9090
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY module_type.json module_type.self-hosted.json ./
USER node
# 9090: the relay, for XDR. 9464: GET /metrics only (METRICS_PORT), for Prometheus
# inside the network; publish 9090 alone (-p 9090:9090, not -P).
EXPOSE 9090 9464
# /healthz needs no token and asks SpyCloud nothing. Plain HTTP, or HTTPS when the relay serves TLS itself
# (its certificate names the public host, not 127.0.0.1: this one local probe
# does not check it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const tls = Boolean(process.env.TLS_CERT_FILE); require(tls ? 'node:https' : 'node:http').get({ host: '127.0.0.1', port: process.env.PORT || 9090, path: '/healthz', rejectUnauthorized: false }, (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# SIGTERM (docker stop) drains in-flight requests, then exits 0; a request may
# take up to REQUEST_BUDGET_MS (25 s), hence --stop-timeout 30 above.
CMD ["node", "dist/server.js"]
