# The OMS image used by docker-compose.yml: the packages and the console script `oms`
# (`entrypoints.cli:main`); every service runs one `oms` command.
FROM python:3.11-slim
# a C++ toolchain: the QuickFIX binding (the FIX venue adapter) builds from source
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oms ./oms
COPY streams ./streams
COPY connectors ./connectors
COPY hostio ./hostio
COPY schemas ./schemas
COPY processors ./processors
COPY replay ./replay
COPY entrypoints ./entrypoints
RUN pip install --no-cache-dir .
ENTRYPOINT ["oms"]
