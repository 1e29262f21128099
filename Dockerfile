# syntax=docker/dockerfile:1
# Multi-stage: compile TypeScript with the dev dependencies, ship only the output and the
# production dependencies, run as an unprivileged user. With DATABASE_URL set, the process
# writes no file at all, so the image runs with a read-only root file system (Kubernetes:
# readOnlyRootFilesystem, see deploy/kubernetes/); DATA_DIR is only for the embedded PGlite.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY console ./console
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/portier
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
RUN mkdir -p /var/lib/portier && chown node:node /var/lib/portier
# The image's `node` user, by number: Kubernetes' runAsNonRoot can only check a numeric one.
USER 1000:1000
EXPOSE 8080
VOLUME ["/var/lib/portier"]
# /readyz answers 200 only when the database is reachable.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
