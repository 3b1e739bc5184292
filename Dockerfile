# wardsync image: district-hub, ward-agent, city-pull and seedgen on
# Debian 12.
#
# Two stages. The build stage installs the build packages of
# scripts/install-deps.sh by running that script (one list to keep, not
# two), configures with CMake and installs to /usr/local. The runtime stage
# copies /usr/local and adds only the shared libraries the programs load,
# so the image carries no compiler, no PostgreSQL server, no test tools.
#
#   docker build -t wardsync:dev .          (docker-compose.yml does this)
#
# Installed layout (cmake --install --prefix /usr/local, the prefix the
# binaries were configured for, so the paths compiled into them hold):
#   /usr/local/bin/{district-hub,ward-agent,city-pull,seedgen}
#   /usr/local/share/wardsync/catalogue.csv
#   /usr/local/share/wardsync/district-hub/sql/*.sql
#   /usr/local/share/wardsync/district-hub/data/{org_units,petition_rules}.csv
# The source tree (/src) is not in the runtime stage, so nothing can fall
# back to it.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The package list alone first, so that editing code does not reinstall it.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --for build && rm -rf /var/lib/apt/lists/*
COPY . .
# No -Werror here: warnings fail the build in CI, not on a user's machine
# with a newer compiler. Only the programs: the tests are CI's.
RUN cmake -S . -B /tmp/build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /tmp/build -j"$(nproc)" \
          --target district-hub ward-agent city-pull seedgen \
 && cmake --install /tmp/build --prefix /usr/local

FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
# Runtime halves of the -dev packages in scripts/install-deps.sh (what
# ldd lists for the four programs), plus the PostgreSQL client for
# operators ("docker-compose exec hub psql ...").
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
        libzmq5 libsodium23 libprotobuf-c1 libpq5 libsqlite3-0 libinih1 \
        libcsv3 libjansson4 libuuid1 libmicrohttpd12 libzip4 libexpat1 \
        libunistring2 libsystemd0 postgresql-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local /usr/local
# Never run as root. Every folder a service writes is created here, owned
# by the service user, so that a fresh named volume mounted on it takes
# that owner and mode (Docker copies them from the image):
#   /etc/wardsync/keys        the "keys" service's key pairs and passwords
#   /var/lib/wardsync/agent   an agent's outbox and inbox/done/rejected
#   /var/lib/wardsync/city    city-pull's files and cursors
RUN useradd --system --home-dir /var/lib/wardsync --shell /usr/sbin/nologin wardsync \
 && install -d -o root -g root -m 0755 /etc/wardsync \
 && install -d -o wardsync -g wardsync -m 0700 /etc/wardsync/keys \
 && install -d -o wardsync -g wardsync -m 0750 \
        /var/lib/wardsync /var/lib/wardsync/agent \
        /var/lib/wardsync/agent/inbox /var/lib/wardsync/agent/done \
        /var/lib/wardsync/agent/rejected /var/lib/wardsync/city \
 && ldconfig
USER wardsync
WORKDIR /var/lib/wardsync
ENV WARDSYNC_AGENT_HOME=/var/lib/wardsync/agent
# 7401 ingest and 7402 pull (both CURVE), 9741 metrics (plain HTTP: publish
# it on the host's loopback only).
EXPOSE 7401 7402 9741
CMD ["district-hub", "--help"]
