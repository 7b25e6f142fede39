# berth: build a release binary, run it as a non-root user on a small Debian image.
#   docker build -t berth .
# Both base images can be replaced, for a registry mirror for example:
#   docker build --build-arg RUST_IMAGE=mirror.example/rust:1.89-bookworm \
#                --build-arg RUNTIME_IMAGE=mirror.example/debian:bookworm-slim -t berth .
ARG RUST_IMAGE=rust:1.89-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY schemas ./schemas
RUN cargo build --release --locked --bin berth

FROM ${RUNTIME_IMAGE}
# ca-certificates: https to Git and API servers; openssh-client and gnupg: commit signature
# verification (ssh-keygen -Y verify, gpg --verify).
RUN apt-get update && apt-get install -y --no-install-recommends \
        ca-certificates libssl3 openssh-client gnupg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --home-dir /var/lib/berth --create-home berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
USER 10001:10001
ENV BERTH_STATE_DIR=/var/lib/berth
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["daemon", "--listen", "0.0.0.0:8080"]
