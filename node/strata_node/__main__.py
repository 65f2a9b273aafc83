"""`strata-node`: run one node process.

    strata-node [--config config/strata.yml] [-E name=value ...]

Settings come from the YAML file, then STRATA_SETTING_* environment variables, then -E
flags. A bad setting, a busy port or an unusable data folder stops start-up with a
message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

EXIT_CONFIG = 78  # Elasticsearch's exit code for configuration errors
EXIT_STARTUP = 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="strata-node", description="Run one Strata node.")
    parser.add_argument("--config", default="config/strata.yml", help="settings file (YAML)")
    parser.add_argument("-E", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting, overriding the file and the environment")
    return parser.parse_args(argv)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="[%(asctime)s][%(levelname)-5s][%(name)s] %(message)s")
    # httpx logs every request at INFO: every transport call between nodes would be a line.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # one line per change otherwise


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging()
    log = logging.getLogger("strata.node")
    from .common.net import bind
    from .node import Node, NodeStartupError
    from .settings import SettingsError, load_node_settings

    try:
        settings = load_node_settings(Path(args.config), args.settings)
    except SettingsError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)

    node = Node(settings)
    try:
        node.prepare_data_path()
    except NodeStartupError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(EXIT_STARTUP)

    host, port = settings.get("http.host"), settings.get("http.port")
    try:
        sock = bind(host, port)
    except OSError as e:
        print(f"ERROR: failed to bind HTTP on [{host}:{port}]: {e.strerror}", file=sys.stderr)
        sys.exit(EXIT_STARTUP)
    bound_host, bound_port = sock.getsockname()[:2]
    transport_host, transport_port = settings.get("transport.host"), settings.get("transport.port")
    try:
        transport_sock = bind(transport_host, transport_port)
    except OSError as e:
        print(f"ERROR: failed to bind transport on [{transport_host}:{transport_port}]: {e.strerror}",
              file=sys.stderr)
        sys.exit(EXIT_STARTUP)
    transport_address = "{}:{}".format(*transport_sock.getsockname()[:2])
    node.transport.address = transport_address
    node.http_address = f"{bound_host}:{bound_port}"

    import uvicorn

    config = uvicorn.Config(node.app(), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    # Internal actions only, on their own port; the node's lifespan runs with the HTTP server.
    transport_server = uvicorn.Server(uvicorn.Config(node.transport.app(), log_level="warning",
                                                     access_log=False, lifespan="off",
                                                     timeout_graceful_shutdown=5))

    # uvicorn re-raises the signal that stopped it once it has shut down; with these
    # handlers in place that is a no-op and the process exits 0 after the clean stop.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)

    async def serve() -> None:
        transport = asyncio.create_task(transport_server.serve(sockets=[transport_sock]))

        async def stop_transport_server() -> None:
            transport_server.should_exit = True
            await asyncio.shield(transport)

        node.stop_transport_server = stop_transport_server
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not (server.started and transport_server.started) and not task.done() and not transport.done():
            await asyncio.sleep(0.05)
        if server.started and transport_server.started:
            log.info("transport publish_address {%s}", transport_address)
            print(f"strata-node [{node.name}] transport listening on {transport_address}",
                  file=sys.stderr, flush=True)
            log.info("publish_address {%s:%d}, bound_addresses {%s:%d}", bound_host, bound_port,
                     bound_host, bound_port)
            print(f"strata-node [{node.name}] listening on http://{bound_host}:{bound_port}",
                  file=sys.stderr, flush=True)
        while not task.done():
            if server.should_exit:
                node.closing.set()
                transport_server.should_exit = True
            if transport.done() and not server.should_exit:
                server.should_exit = True  # the transport failed: the node cannot serve
            await asyncio.sleep(0.1)
        transport_server.should_exit = True
        await task
        await transport

    # A bulk request allocates hundreds of thousands of short-lived containers, which
    # reference counting frees; with the default threshold (700) the cyclic collector
    # ran thousands of times per million documents for nothing (about a tenth of the
    # event loop's time). What start-up made lives as long as the node: frozen, so full
    # collections no longer walk it.
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())
    if not server.started:
        sys.exit(EXIT_STARTUP)


if __name__ == "__main__":
    main()
