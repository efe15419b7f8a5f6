# syntax=docker/dockerfile:1
#
# rhi as a container, typically a sidecar sharing HAProxy's network namespace
# (see "Running as a container sidecar" in README.md).
#
#   docker build -t rhi .
#   docker build --build-arg RHI_SETCAP=0 -t rhi .   # no file capability (see below)
#
# Needs BuildKit (the default builder since Docker 23) for the cache and bind mounts.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- build ------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# Only what the release binary is built from (.dockerignore keeps the rest out of the context).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The registry and target caches survive between builds; the binary is copied out of the cache
# mount before the step ends. Cargo.lock is the tested dependency set: --locked refuses to change it.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin rhi \
    && install -D -m 0755 target/release/rhi /out/rhi

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim

LABEL org.opencontainers.image.title="rhi" \
      org.opencontainers.image.description="Route Health Injection: announce load-balancer VIPs to upstream routers over BGP" \
      org.opencontainers.image.licenses="Apache-2.0"

# Binding port 179 (only needed with `listen:` for routers that connect to us, i.e. passive peers;
# rhi normally connects OUT to its routers and listens on nothing below 1024):
#
# - RHI_SETCAP=1 (default) gives the binary the file capability cap_net_bind_service=+ep, so the
#   non-root user can bind 179 where the container's bounding set holds NET_BIND_SERVICE, which
#   Docker's default set does. With `--cap-drop ALL` (or Kubernetes `capabilities: {drop: [ALL]}`)
#   add it back (`--cap-add NET_BIND_SERVICE` / `add: [NET_BIND_SERVICE]`): the kernel refuses to
#   exec a binary whose file capability cannot be granted ("operation not permitted"). With
#   no-new-privileges (Kubernetes `allowPrivilegeEscalation: false`) the file capability is ignored.
# - RHI_SETCAP=0 leaves the binary plain. Binding 179 then needs the namespaced sysctl
#   net.ipv4.ip_unprivileged_port_start<=179 (Docker sets it to 0 in containers with their own
#   network namespace; Kubernetes allows it as a safe sysctl), or root.
#
# setcap comes from libcap2-bin, installed and purged within the same step, so it is not in the
# image; the binary is bind-mounted from the build stage rather than COPY'd so that the capability
# is set in the layer that holds the file (COPY does not carry xattrs on every builder).
ARG RHI_SETCAP=1
ARG RHI_UID=10179
# hadolint ignore=DL3008
RUN --mount=type=bind,from=build,source=/out/rhi,target=/tmp/rhi \
    set -eux; \
    install -m 0755 /tmp/rhi /usr/local/bin/rhi; \
    if [ "$RHI_SETCAP" = 1 ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends libcap2-bin; \
        setcap cap_net_bind_service=+ep /usr/local/bin/rhi; \
        setcap -v cap_net_bind_service=+ep /usr/local/bin/rhi; \
        apt-get purge -y --auto-remove libcap2-bin; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --gid "$RHI_UID" rhi; \
    useradd --uid "$RHI_UID" --gid rhi --home-dir /var/lib/rhi --no-create-home \
        --shell /usr/sbin/nologin rhi; \
    install -d -m 0755 -o rhi -g rhi /etc/rhi /run/rhi /var/lib/rhi; \
    rhi --version

COPY config.example.yaml /usr/share/doc/rhi/config.example.yaml

# /etc/rhi: configuration (mount read-only); /run/rhi: the control socket (share it to run
# `rhi status` from another container); /var/lib/rhi: state_file (drain state, manual routes).
VOLUME ["/etc/rhi", "/run/rhi", "/var/lib/rhi"]
WORKDIR /var/lib/rhi
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER ${RHI_UID}:${RHI_UID}

# SIGTERM: rhi withdraws every route (after drain.on_shutdown, if set), closes its sessions with
# Cease / Administrative Shutdown and exits 0. Give it drain.on_shutdown + 2 s before SIGKILL
# (`docker stop -t`, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# No EXPOSE: as a sidecar rhi shares HAProxy's network namespace and publishes nothing itself;
# metrics.listen (e.g. 9179) and listen (179) are whatever the configuration says.
ENTRYPOINT ["rhi"]
CMD ["run", "-c", "/etc/rhi/rhi.yaml"]
