"""`strata`: commands for people.

    strata up [--nodes 3] [--http-port 9200] [--transport-port 9300] [--data ./data]
    strata unsafe-bootstrap --path-data DIR [--yes]
    strata detach-cluster --path-data DIR [--yes]

starts a local cluster of N node processes (node-0 ... node-N-1, HTTP on P, P+1, ...,
transport on T, T+1, ..., data in DIR/node-i), lets them discover each other through
`discovery.seed_hosts` and bootstrap from `cluster.initial_master_nodes`, waits until all
of them have joined one elected master, prints where they listen, and stops them cleanly
(flushing their shards) on Ctrl-C. Port 0 lets every node pick a free port.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from .common.net import free_ports

LISTENING = re.compile(r"listening on (http://\S+)")


def _forward(proc: subprocess.Popen, ready: threading.Event, found: list[str], quiet: bool,
             prefix: str) -> None:
    for line in proc.stdout:
        m = LISTENING.search(line)
        if m and not found:
            found.append(m.group(1))
            ready.set()
        if not quiet:
            sys.stderr.write(f"{prefix}{line}")
    ready.set()


def _cluster_secret(data: Path) -> str:
    from .common.files import write_atomically
    from .transport.auth import generate_secret

    path = data / "transport.secret"
    if not path.exists():
        write_atomically(path, generate_secret().encode(), mode=0o600)
    return path.read_text().strip()


def _wait_for_cluster(url: str, nodes: int, procs: list[subprocess.Popen],
                      timeout: float = 60.0) -> str | None:
    """The elected master's name once every node has joined it, or None. The node waits
    for the cluster state (`wait_for_nodes`); each call is short so a node that died is seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        try:
            health = httpx.get(f"{url}/_cluster/health", params={"wait_for_nodes": nodes, "timeout": "2s"},
                               timeout=10)
            if health.status_code == 200:
                rows = httpx.get(f"{url}/_cat/master", params={"format": "json"}, timeout=5).json()
                if rows and rows[0].get("node") not in (None, "-"):
                    return rows[0]["node"]
                time.sleep(0.1)  # all joined, the master changing hands: ask again shortly
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)  # not listening yet, or busy starting
    return None


def up(args: argparse.Namespace) -> int:
    data = Path(args.data).resolve()
    n = args.nodes
    names = [args.name] if n == 1 else [f"node-{i}" for i in range(n)]
    transport_ports = ([args.transport_port + i for i in range(n)] if args.transport_port
                       else free_ports(n, args.host))
    seeds = ",".join(f"{args.host}:{p}" for p in transport_ports)
    env = dict(os.environ)
    if n > 1 and not any(x.startswith("transport.secret=") for x in args.settings):
        # One secret for the whole local cluster, kept beside the nodes' folders and handed
        # over in the environment (not on the command line, where `ps` would show it).
        env.setdefault("STRATA_SETTING_TRANSPORT_SECRET", _cluster_secret(data))
    procs: list[subprocess.Popen] = []
    found: list[list[str]] = []
    readies: list[threading.Event] = []
    for i, name in enumerate(names):
        http_port = args.http_port + i if args.http_port else 0
        cmd = [sys.executable, "-m", "strata_node", "--config", args.config,
               "-E", f"path.data={data / name}", "-E", f"node.name={name}",
               "-E", f"http.port={http_port}", "-E", f"transport.port={transport_ports[i]}",
               "-E", f"http.host={args.host}", "-E", f"transport.host={args.host}"]
        if n > 1:
            cmd += ["-E", f"discovery.seed_hosts={seeds}",
                    "-E", f"cluster.initial_master_nodes={','.join(names)}"]
        if not any(x.startswith("path.repo=") for x in args.settings):
            # One folder every node shares, so `fs` snapshot repositories work out of the box.
            cmd += ["-E", f"path.repo={data / 'repo'}"]
        for setting in args.settings:
            cmd += ["-E", setting]
        print(f"starting node [{name}] with data in {data / name} ...", file=sys.stderr, flush=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                start_new_session=True, env=env)
        procs.append(proc)
        ready, urls = threading.Event(), []
        prefix = f"[{name}] " if n > 1 else ""
        threading.Thread(target=_forward, args=(proc, ready, urls, args.quiet, prefix), daemon=True).start()
        found.append(urls)
        readies.append(ready)

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for ready in readies:
        ready.wait()
    urls = [u[0] for u in found if u]
    formed = False
    if len(urls) == n:
        master = _wait_for_cluster(urls[0], n, procs)
        formed = master is not None
        if formed:
            listing = "  ".join(urls)
            nodes = f"{n} node{'s' if n > 1 else ''}"
            print(f"\nStrata is up: {urls[0]}  (cluster [{args.cluster_name}], {nodes}, master [{master}], "
                  f"Ctrl-C to stop)\n  nodes: {listing}\n", flush=True)
        else:
            print("the nodes did not form a cluster in time; stopping them", file=sys.stderr, flush=True)
            stop()
    else:
        stop()
    codes = [proc.wait() for proc in procs]
    if len(urls) != n:
        failed = next((c for c in codes if c), 1)
        print(f"a node exited with code {failed} before it was ready", file=sys.stderr)
        return failed
    print("stopped.", file=sys.stderr)
    bad = [c for c in codes if c not in (0, -signal.SIGTERM)]
    return bad[0] if bad else (0 if formed else 1)


def unsafe(args: argparse.Namespace) -> int:
    """The last-resort repairs of cluster/unsafe.py, with their warnings and a confirmation."""
    from .cluster import unsafe as repairs

    data = Path(args.path_data).resolve()
    print(repairs.WARNING, file=sys.stderr)
    try:
        before = repairs.describe(data)
    except repairs.UnsafeCommandError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    state = before.last_accepted_state
    print(f"node data in {data}: current term [{before.current_term}], last accepted cluster state "
          f"term [{state.term}] version [{state.version}]", file=sys.stderr)
    if args.command == "unsafe-bootstrap":
        print("This node will form a new cluster, with a new cluster UUID, whose only voting node is "
              "itself.", file=sys.stderr)
    else:
        print("This node will forget the cluster it belongs to and join whichever elected master it "
              "discovers next.", file=sys.stderr)
    if not args.yes:
        answer = input("Do you want to proceed? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("aborted.", file=sys.stderr)
            return 1
    try:
        if args.command == "unsafe-bootstrap":
            after = repairs.unsafe_bootstrap(data)
            print(f"Master node was successfully bootstrapped; new cluster state version [{after.version}].",
                  file=sys.stderr)
        else:
            repairs.detach_cluster(data)
            print("Node was successfully detached from the cluster.", file=sys.stderr)
    except repairs.UnsafeCommandError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="strata", description="Strata: Elasticsearch's core, in Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up", help="run a local cluster (no Kubernetes)")
    p.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    p.add_argument("--http-port", type=int, default=9200)
    p.add_argument("--transport-port", type=int, default=9300)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data", default="data", help="folder for the nodes' data (default ./data)")
    p.add_argument("--name", default="node-1", help="the node's name when --nodes is 1")
    p.add_argument("--cluster-name", default=os.environ.get("STRATA_SETTING_CLUSTER_NAME", "strata"))
    p.add_argument("--config", default="config/strata.yml")
    p.add_argument("-E", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--quiet", action="store_true", help="do not echo the node's log")
    for name, text in (("unsafe-bootstrap", "form a new cluster from this stopped node (can lose data)"),
                       ("detach-cluster", "make this stopped node forget its cluster (can lose data)")):
        r = commands.add_parser(name, help=text)
        r.add_argument("--path-data", required=True, help="the node's path.data")
        r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    if args.command != "up":
        sys.exit(unsafe(args))
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    args.settings = [f"cluster.name={args.cluster_name}", *args.settings]
    sys.exit(up(args))


if __name__ == "__main__":
    main()
