# The OMS image used by docker-compose.yml: the packages and the console script `oms`
# (`entrypoints.cli:main`); every service runs one `oms` command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oms ./oms
COPY streams ./streams
COPY schemas ./schemas
COPY processors ./processors
COPY replay ./replay
COPY entrypoints ./entrypoints
RUN pip install --no-cache-dir .
ENTRYPOINT ["oms"]
