# ctlab in a container: Debian (bookworm, as the official Node image is built on it), Debian's
# Chromium package, the built app, and `ctlab` as the entry point. One container runs one shard:
#   docker run -v ctlab-cache:/home/node/.cache/ctlab -v "$PWD/results:/results" IMAGE \
#     eval --model org/name --variants paper --shard 3/8 --out /results/r3.json
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx vite build && npm prune --omit=dev

FROM node:22-bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# The CLI launches /usr/bin/chromium; fonts for the pages it renders.
RUN apt-get update \
  && apt-get install -y --no-install-recommends chromium fonts-dejavu-core ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# package.json makes server/*.js ES modules; no lockfile ships, since `npm prune` rewrites it after
# the build and the CLI would take a newer lockfile for a reason to rebuild.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/server ./server
COPY --from=build /app/dist ./dist
# No sources ship, so the CLI never finds them newer than dist/ and never tries to rebuild.
RUN mkdir -p /home/node/.cache/ctlab /results && chown -R node:node /home/node/.cache /results
USER node
# The browser profile (model cache, a shard's stored runs) outlives the container in a volume,
# so a shard restarted with the same --shard and --port resumes its own units.
VOLUME ["/home/node/.cache/ctlab", "/results"]
ENTRYPOINT ["node", "/app/bin/ctlab.mjs"]
CMD ["--help"]
