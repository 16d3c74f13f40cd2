# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
# tsc alone: the image ships no src/, so dist/ needs no stamp (bin/exporter runs it whenever src/ is absent).
RUN npx tsc -p tsconfig.json

# Run: production dependencies, compiled JS, the SQL migrations; non-root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# bin/exporter sets the V8 flags it needs itself (a small young generation),
# so no NODE_OPTIONS here: the memory figures hold however it is started.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY sql ./sql
COPY definitions ./definitions
# The archive's offline viewer (index.html and its code), copied into every archive.
COPY viewer ./viewer
USER node
# node is PID 1 and handles SIGTERM itself (claims handed back, exit 143).
ENTRYPOINT ["node", "/app/bin/exporter"]
CMD ["nightly"]
