# driftline container image: `docker build -t driftline:local .`
# Runs as a non-root user; the entrypoint is the `driftline` CLI.
#   docker run --rm -v $PWD/configs/kafka.yaml:/etc/driftline/config.yaml:ro -p 9108:9108 driftline:local
#   docker run --rm driftline:local produce-demo --bootstrap kafka:9092 --topic predictions --rate 2000
FROM python:3.11-slim

LABEL org.opencontainers.image.title="driftline" \
      org.opencontainers.image.description="Streaming behavioral-drift detection for ML models" \
      org.opencontainers.image.source="https://github.com/driftline/driftline" \
      org.opencontainers.image.licenses="Apache-2.0"

# In a container the metrics endpoint must listen on all interfaces (the config default is
# 127.0.0.1). Environment beats the config file; --metrics-addr beats both.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRIFTLINE_METRICS__ADDR=0.0.0.0

RUN groupadd --system --gid 10001 driftline \
 && useradd --system --uid 10001 --gid driftline --home-dir /var/lib/driftline \
      --shell /usr/sbin/nologin driftline \
 && install -d -o driftline -g driftline /var/lib/driftline /etc/driftline

# Dependencies ship manylinux wheels (numpy, scipy, pyarrow, confluent-kafka with librdkafka
# bundled, river): no compiler in the image. README* is a glob so a missing README is no error.
WORKDIR /tmp/driftline-src
COPY pyproject.toml README* ./
COPY src ./src
RUN pip install . \
 && cd / && rm -rf /tmp/driftline-src \
 && driftline --help >/dev/null

USER driftline:driftline
WORKDIR /var/lib/driftline
EXPOSE 9108

# Healthy = the Prometheus metrics endpoint answers. Port: DRIFTLINE_METRICS__PORT if set, else 9108.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('DRIFTLINE_METRICS__PORT', '9108'), timeout=4).read(1)"]

ENTRYPOINT ["driftline"]
CMD ["run", "--config", "/etc/driftline/config.yaml"]
