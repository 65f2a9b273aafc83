"""`strata`: commands for people.

    strata up [--http-port 9200] [--data ./data]

starts a local node process with its data under --data, waits until it answers, prints
where it listens, and stops it cleanly (flushing its shards) on Ctrl-C. Multi-node local
clusters follow once cluster coordination lands.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

LISTENING = re.compile(r"listening on (http://\S+)")


def _forward(proc: subprocess.Popen, ready: threading.Event, found: list[str], quiet: bool) -> None:
    for line in proc.stdout:
        m = LISTENING.search(line)
        if m and not found:
            found.append(m.group(1))
            ready.set()
        if not quiet:
            sys.stderr.write(line)
    ready.set()


def up(args: argparse.Namespace) -> int:
    data = Path(args.data).resolve()
    cmd = [sys.executable, "-m", "strata_node", "--config", args.config,
           "-E", f"path.data={data / args.name}", "-E", f"node.name={args.name}",
           "-E", f"http.port={args.http_port}", "-E", f"transport.port={args.transport_port}",
           "-E", f"http.host={args.host}"]
    for s in args.settings:
        cmd += ["-E", s]
    print(f"starting node [{args.name}] with data in {data / args.name} ...", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            start_new_session=True)
    ready, found = threading.Event(), []
    threading.Thread(target=_forward, args=(proc, ready, found, args.quiet), daemon=True).start()

    def stop(*_: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    ready.wait()
    if found:
        print(f"\nStrata is up: {found[0]}  (cluster [{args.cluster_name}], Ctrl-C to stop)\n",
              flush=True)
    code = proc.wait()
    if not found:
        print(f"node exited with code {code} before it was ready", file=sys.stderr)
        return code or 1
    print("stopped.", file=sys.stderr)
    return 0 if code in (0, -signal.SIGTERM) else code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="strata", description="Strata: Elasticsearch's core, in Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up", help="run a local node (no Kubernetes)")
    p.add_argument("--http-port", type=int, default=9200)
    p.add_argument("--transport-port", type=int, default=9300)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data", default="data", help="folder for the nodes' data (default ./data)")
    p.add_argument("--name", default="node-1")
    p.add_argument("--cluster-name", default=os.environ.get("STRATA_SETTING_CLUSTER_NAME", "strata"))
    p.add_argument("--config", default="config/strata.yml")
    p.add_argument("-E", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--quiet", action="store_true", help="do not echo the node's log")
    args = parser.parse_args(argv)
    args.settings = [f"cluster.name={args.cluster_name}", *args.settings]
    sys.exit(up(args))


if __name__ == "__main__":
    main()
