# wardsync image: district-hub, ward-agent and seedgen on Debian 12.
#
# Two stages. The build stage installs exactly the packages of
# scripts/install-deps.sh by running that script (one list to keep, not
# two), configures with CMake and installs to /usr/local. The runtime stage
# copies /usr/local and adds only the shared libraries the programs load,
# so the image carries no compiler, no PostgreSQL server, no test tools.
#
#   docker build -t wardsync:dev .          (docker-compose.yml does this)

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The package list alone first, so that editing code does not reinstall it.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# No -Werror here: warnings fail the build in CI, not on a user's machine
# with a newer compiler.
RUN cmake -S . -B /tmp/build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /tmp/build -j"$(nproc)" \
 && cmake --install /tmp/build --prefix /usr/local

FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
# Runtime halves of the -dev packages in scripts/install-deps.sh, plus the
# PostgreSQL client for operators ("docker-compose exec hub psql ...").
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
        libzmq5 libprotobuf-c1 libpq5 libsqlite3-0 libinih1 libcsv3 \
        libjansson4 libuuid1 libzip4 libexpat1 libunistring2 \
        postgresql-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# district-hub finds its migrations and org units under
# /usr/local/share/wardsync/district-hub, the catalogue under
# /usr/local/share/wardsync (the source tree is not in this stage).
COPY --from=build /usr/local /usr/local
# Never run as root. The agent's home is created here, owned by the
# service user, so that a fresh named volume mounted on it inherits that
# ownership.
RUN useradd --system --home-dir /var/lib/wardsync --shell /usr/sbin/nologin wardsync \
 && install -d -o wardsync -g wardsync -m 0750 \
        /var/lib/wardsync /var/lib/wardsync/agent \
        /var/lib/wardsync/agent/inbox /var/lib/wardsync/agent/done \
        /var/lib/wardsync/agent/rejected \
 && ldconfig
USER wardsync
WORKDIR /var/lib/wardsync
ENV WARDSYNC_AGENT_HOME=/var/lib/wardsync/agent
EXPOSE 7401 7402
CMD ["district-hub", "--help"]
