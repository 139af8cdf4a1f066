"""Scenario `cluster`: the ingest scenario against a local 3-node Redis Cluster.

Three `redis-server --cluster-enabled yes` primaries on free ports (started by
`ioc.adapters.embedded.redis_cluster`; without it, by this module with
`redis-cli --cluster create … --cluster-yes`), two ingest workers on a shared subscription,
the same fleet, births and fast publisher as `ingest`. If the product fails on the cluster the
failure is reported as a failed measurement with the error, not as a harness crash.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench import cityio, fleetdata, ingest, procs
from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult
from bench.stats import summary

WORKERS = 2


class _CliCluster:
    """Fallback: three cluster-enabled redis-server processes joined by `redis-cli --cluster create`."""

    def __init__(self, data_dir: Path, nodes: int = 3):
        from ioc.adapters import embedded

        self.nodes = []
        for i in range(nodes):
            server = embedded.redis_server(Path(data_dir) / f"node{i}")
            server.argv += ["--cluster-enabled", "yes", "--cluster-config-file", str(server.data_dir / "nodes.conf"),
                            "--cluster-node-timeout", "5000"]
            self.nodes.append(server.start())
        cli = shutil.which("redis-cli")
        if not cli:
            raise RuntimeError("redis-cli is not installed (needed to form the cluster)")
        subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{s.port}" for s in self.nodes], "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.time() + 30
        while time.time() < deadline:
            out = subprocess.run([cli, "-p", str(self.nodes[0].port), "cluster", "info"], capture_output=True, text=True).stdout
            if "cluster_state:ok" in out:
                return
            time.sleep(0.2)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def stop(self) -> None:
        for s in self.nodes:
            s.stop()


def start_cluster(data_dir: Path, progress):
    from ioc.adapters import embedded

    if hasattr(embedded, "redis_cluster"):
        cluster = embedded.redis_cluster(data_dir, nodes=3)
        how = "ioc.adapters.embedded.redis_cluster"
    else:
        cluster = _CliCluster(data_dir, 3)
        how = "redis-cli --cluster create"
    progress(f"cluster: 3 nodes up at {cluster.url} ({how})")
    return cluster


def node_pids(cluster) -> dict[str, int]:
    nodes = getattr(cluster, "nodes", [])
    return {f"redis-node{i}": n.proc.pid for i, n in enumerate(nodes) if getattr(n, "proc", None)}


def run(ctx: BenchContext) -> ScenarioResult:
    from ioc.adapters.redis_client import connect_redis

    result = ScenarioResult()
    n = ctx.fleet_size()
    fleet, fleet_path = fleetdata.load(ctx.work_dir, n)
    cluster = None
    children = procs.Children()
    try:
        cluster = start_cluster(ctx.work_dir / "cluster", ctx.progress)
        client = connect_redis(cluster.url)
        shards = ctx.settings().redis_shards
        env = ctx.process_env(REDIS_URL=cluster.url)
        worker = procs.ingest_workers(children, 1, env, ctx.work_dir)
        cityio.wait_workers(client, ctx.mqtt_url, fleet, [w.client_id for w in worker], worker)
        ctx.progress(f"cluster: births of {len(fleet.devices):,} devices")
        cityio.ensure_births(client, ctx.mqtt_url, fleet, shards, ctx.progress)
        children.stop_all()
        servers = {k: v for k, v in ctx.server_pids.items() if "redis" not in k}
        results = ingest.measure(ctx, "cluster", cluster.url, WORKERS, client, fleet, fleet_path,
                                 {**servers, **node_pids(cluster)})
        single = (ctx.shared.get("ingest_msg_s") or {}).get(WORKERS)
        result.measurements += ingest.report("cluster", WORKERS, results, ctx.shared.get("baseline_msg_s"),
                                             ingest.TARGETS[WORKERS], {"single_redis_msg_s": single})
        if single:
            rate = summary([r.rate for r in results])["median"]
            result.measurements.append(Measurement("cluster", "ratio to a single Redis, 2 workers", round(rate / single, 3), "ratio"))
    except Exception as e:  # noqa: BLE001 - the product failing on a cluster is a result, not a harness error
        ctx.progress(f"cluster: FAILED: {type(e).__name__}: {e}")
        result.measurements.append(Measurement("cluster", "ingest on a 3-node Redis Cluster, 2 workers", float("nan"), "msg/s",
                                               "works", False, {"error": f"{type(e).__name__}: {e}"}))
    finally:
        children.stop_all()
        if cluster is not None:
            cluster.stop()
    return result
