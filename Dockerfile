# Two images from one tree:
#   docker build --target operator -t strata/strata-operator:0.1.0 .   the kopf operator
#   docker build -t strata/strata-node:0.1.0 .                          the node (the default, last stage)
FROM python:3.11-slim AS base

RUN groupadd --system --gid 1000 strata \
 && useradd --system --uid 1000 --gid strata --home-dir /usr/share/strata strata

WORKDIR /usr/share/strata
COPY pyproject.toml README.md ./
COPY node ./node
COPY operator ./operator


# The operator: the strata_operator package and its dependencies only (kopf, kubernetes, httpx).
FROM base AS operator

RUN pip install --no-cache-dir ".[operator]"
USER strata
ENTRYPOINT ["strata-operator"]


# The node image.
FROM base AS node

RUN pip install --no-cache-dir ".[node]"

COPY config/strata.yml ./config/strata.yml
RUN mkdir -p data && chown -R strata:strata /usr/share/strata

USER strata
ENV STRATA_SETTING_PATH_DATA=/usr/share/strata/data \
    STRATA_SETTING_NETWORK_HOST=0.0.0.0
VOLUME ["/usr/share/strata/data"]
EXPOSE 9200 9300
ENTRYPOINT ["strata-node", "--config", "/usr/share/strata/config/strata.yml"]
