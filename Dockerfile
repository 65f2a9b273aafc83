# The Strata node image. The operator image will be a second target from this tree.
FROM python:3.11-slim AS node

RUN groupadd --system --gid 1000 strata \
 && useradd --system --uid 1000 --gid strata --home-dir /usr/share/strata strata

WORKDIR /usr/share/strata
COPY pyproject.toml README.md ./
COPY node ./node
COPY operator ./operator
RUN pip install --no-cache-dir ".[node]"

COPY config/strata.yml ./config/strata.yml
RUN mkdir -p data && chown -R strata:strata /usr/share/strata

USER strata
ENV STRATA_SETTING_PATH_DATA=/usr/share/strata/data \
    STRATA_SETTING_NETWORK_HOST=0.0.0.0
VOLUME ["/usr/share/strata/data"]
EXPOSE 9200 9300
ENTRYPOINT ["strata-node", "--config", "/usr/share/strata/config/strata.yml"]
