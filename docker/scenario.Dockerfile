# The scenario programs (crate lgtm-scenarios), for docker/docker-compose.yml's
# rust-app service. Build context: the repository root.
FROM rust:1.88 AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p lgtm-scenarios --bins \
 && mkdir -p /out \
 && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/ \;

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
USER 65534:65534
EXPOSE 3000 9090
ENTRYPOINT ["http-service"]
