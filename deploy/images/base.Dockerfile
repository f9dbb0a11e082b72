# lakectl's image base (lakectl/runtime/images.py builds it; every service family's image starts FROM it).
# Debian's packages the native recipes use (PostgreSQL, Prometheus, a JDK 17 that also compiles the Flink
# reporter and the Delta sink, Maven for the jars), and a virtualenv with lakectl's dependencies. lakectl's
# own code is not in the image: each container runs it from the checkout, bind-mounted at its own path.
ARG DEBIAN=debian:bookworm-slim
FROM ${DEBIAN}
# the CA certificates the building machine trusts beyond the default ones (e.g. an HTTPS-intercepting proxy's)
COPY certs/ /usr/local/share/ca-certificates/
# policy-rc.d: no package may start its service during the build (the containers run one process each);
# /etc/passwd writable: a container runs as the host user's uid, and `lakectl service run` adds its line
# (PostgreSQL's initdb needs one)
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates python3 \
    python3-venv openjdk-17-jdk-headless maven postgresql prometheus procps \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && chmod 666 /etc/passwd
# lakectl's dependencies (uv also makes the service venvs); /usr/local/bin/lakectl runs the mounted checkout;
# the cache holds the family's artifacts (COPY'd over this), its lock files taken by any uid
ARG UV_VERSION
COPY pyproject.toml /opt/lakectl/pyproject.toml
RUN python3 -m venv /opt/lakectl/venv \
 && /opt/lakectl/venv/bin/python -m pip install -q --disable-pip-version-check "uv==${UV_VERSION}" \
 && UV_NATIVE_TLS=1 /opt/lakectl/venv/bin/uv pip install -q --no-cache --python /opt/lakectl/venv/bin/python \
    -r /opt/lakectl/pyproject.toml \
 && printf '#!/bin/sh\nexec /opt/lakectl/venv/bin/python -m lakectl "$@"\n' > /usr/local/bin/lakectl \
 && chmod 755 /usr/local/bin/lakectl \
 && mkdir -p /opt/lakectl/cache/locks && chmod 1777 /opt/lakectl/cache /opt/lakectl/cache/locks
ENV PATH=/opt/lakectl/venv/bin:${PATH} LAKECTL_CACHE_DIR=/opt/lakectl/cache
