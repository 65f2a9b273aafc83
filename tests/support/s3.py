"""An S3 endpoint on loopback for `s3` repositories: moto's server, in a thread of the
test process, reached by node processes over HTTP as they would reach S3."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# moto accepts any credentials; the nodes find these through boto3's default chain.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "strata-test", "AWS_SECRET_ACCESS_KEY": "strata-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Endpoint:
    url: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def node_settings(self, client: str = "default") -> list[str]:
        return [f"s3.client.{client}.endpoint={self.url}", f"s3.client.{client}.path_style_access=true"]


@contextmanager
def s3_endpoint() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Endpoint(f"http://{host}:{port}")
    finally:
        server.stop()
