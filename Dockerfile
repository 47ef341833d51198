# The OMS image used by docker-compose.yml: the package and its console script `oms`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oms ./oms
COPY streams ./streams
COPY schemas ./schemas
COPY processors ./processors
COPY replay ./replay
RUN pip install --no-cache-dir .
ENTRYPOINT ["oms"]
