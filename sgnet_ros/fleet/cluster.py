"""Ray for a run: a local cluster started for it (no dashboard, no usage statistics sent;
Ray's own token authentication), or an existing cluster named by --address.

Ray maps 127.0.0.1 to the host's own address by design, so a local cluster listens there;
its traffic stays on this machine.
"""

from __future__ import annotations

import os


def require_ray():
    """The ray module, or a SystemExit that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise SystemExit("Ray is not installed: pip install 'sgnet_ros[fleet]' "
                         f"(or pip install ray) ({error})") from error
    return ray


def start_ray(address: str | None, num_cpus: int | None, num_gpus: int | None) -> bool:
    """Connect to `address` or start a local Ray; returns whether this call started it.

    A Ray already initialised in this process (a notebook, a test) is used as it is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False,
                 log_to_driver=False)
    return True


def cluster_description() -> str:
    """CPUs, GPUs and nodes of the connected cluster, for the report."""
    ray = require_ray()
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return (f"{nodes} node(s), {resources.get('CPU', 0):g} CPU, "
            f"{resources.get('GPU', 0):g} GPU")
