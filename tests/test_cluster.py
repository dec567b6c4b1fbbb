"""Scale-out on Ray: joining a cluster, embedding on one as the local path does, and
serving shard searchers on one.

The cluster runs for real (``tests/cluster.py``) in namespaces of its own
(``bench.cluster.isolated``): loopback only, and no process outliving the run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cluster import isolated
from search.cli import main
from search.cluster.connect import connect
from search.errors import ClusterError
from search.storage.folder import IndexFolder

# Cluster start-ups (about 10 s each on 2 cores), local embedding of the sample,
# three embedding runs and two rebuilds on the cluster; the limit leaves room for a
# loaded machine.
SCENARIO_SECONDS = 300
# A local build of 120 articles, a cluster, a server whose searchers start on it, a
# node loss (up to 60 s) and a write.
SERVING_SECONDS = 240


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_head_is_one_line_naming_the_address_at_once() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    started = time.perf_counter()
    with pytest.raises(ClusterError) as caught, connect(address):
        pass
    assert time.perf_counter() - started < 10
    message = str(caught.value)
    assert address in message and "\n" not in message


@pytest.mark.parametrize("address", ["head-without-port", "head:port", ":6379", "head:99999"])
def test_a_malformed_address_is_named(address: str) -> None:
    with (
        pytest.raises(ClusterError, match="expected 'auto', 'local' or HOST:PORT"),
        connect(address),
    ):
        pass


def test_rebuild_on_an_unreachable_cluster_leaves_the_index_as_it_was(
    tiny_index: Path, tiny_sources: list[Path]
) -> None:
    live = IndexFolder(tiny_index).live_name()
    address = f"127.0.0.1:{_closed_port()}"
    args = ["rebuild", *map(str, tiny_sources), "--index", str(tiny_index), "--ray", address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot reach the Ray cluster at {address}: ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert IndexFolder(tiny_index).live_name() == live


def test_cluster_options_need_an_address(tiny_index: Path) -> None:
    args = ["rebuild", "--index", str(tiny_index), "--ray-workers", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "need --ray" in result.output


def test_serve_on_an_unreachable_cluster_is_one_line(tiny_index: Path) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    args = ["serve", "--index", str(tiny_index), "--port", "0", "--ray", address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot reach the Ray cluster at {address}: ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_serve_without_the_cluster_extra_is_one_line(tiny_index: Path) -> None:
    # Ray made unimportable, as in an install without the extra.
    program = (
        "import sys; sys.modules['ray'] = None; from search.cli import main; "
        f"main(['serve', '--index', {str(tiny_index)!r}, '--port', '0', '--ray', 'local'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    extra = "pip install 'news-search[cluster]'"
    assert done.stderr == f"error: --ray needs the cluster extra: {extra}\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--replicas", "2"], "--replicas needs --ray"),
        (["--ray", "local", "--workers", "2"], "--ray serves from one process"),
    ],
)
def test_serve_cluster_options_are_checked(
    tiny_index: Path, options: list[str], message: str
) -> None:
    args = ["serve", "--index", str(tiny_index), "--port", "0", *options]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.slow
def test_a_cluster_rebuilds_as_the_local_path_does_and_survives_lost_nodes() -> None:
    result = isolated("tests.cluster", ["--articles", "400"], timeout=SCENARIO_SECONDS)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    # Ray prints its own notices of the lost node between the scenario's lines.
    scenarios = ("local", "equal", "node loss", "rebuild", "shard node loss")
    reported = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert [name for name in reported if name in scenarios] == list(scenarios), result.stdout


@pytest.mark.slow
def test_serving_on_a_cluster_answers_like_local_search_and_recovers_a_lost_node() -> None:
    result = isolated("tests.cluster", ["serving"], timeout=SERVING_SECONDS)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    scenarios = ("serve", "node loss", "add")
    reported = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert [name for name in reported if name in scenarios] == [*scenarios[:1], *scenarios], (
        result.stdout
    )
