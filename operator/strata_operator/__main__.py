"""`strata-operator`: run the operator (kopf) for StrataCluster, StrataFileSettings and StrataAutoscaler.

    strata-operator [--namespace NS ...] [--liveness URL] [--verbose]

Without --namespace it serves every namespace. It runs standalone (no kopf peering): the
install runs exactly one replica with the Recreate strategy (manifests/operator.yaml says why).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="strata-operator", description="Run the Strata operator.")
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="serve only this namespace (repeatable); every namespace by default",
    )
    parser.add_argument(
        "--liveness",
        default=None,
        metavar="URL",
        help="serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s][%(levelname)-5s][%(name)s] %(message)s",
    )
    import kopf

    from . import handlers  # noqa: F401  (registers the handlers)

    asyncio.run(
        kopf.operator(
            standalone=True,
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness,
        )
    )


if __name__ == "__main__":
    main()
