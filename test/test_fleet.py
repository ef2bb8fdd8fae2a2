"""sgnet-fleet on a local 2-CPU Ray cluster: small bags, one corrupt, one with other topics.

Per-bag results must be those of `sgnet-replay --mode direct` (label images hashed as read
back from both output bags), the corrupt bag reported while the others finish, --resume
keeping finished bags, and a worker killed for real (SIGKILL) mid-bag retried by Ray
without duplicated or half-written outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sgnet_ros.bags import replay
from sgnet_ros.bags.io import read_messages
from sgnet_ros.fleet import cli, datasets
from sgnet_ros.fleet.cluster import start_ray
from sgnet_ros.fleet.layout import fleet_jobs
from sgnet_ros.fleet.task import label_frame_bytes
from sgnet_ros.pipeline.codec import decode_image
from sgnet_ros.ros.messages import stamp_ns
from sgnet_ros.training.synthetic_cli import write_bag

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[fleet]')")

ROOT = Path(__file__).resolve().parent.parent

LABEL_TOPIC = "/camera/segmentation/image"


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for this module, shut down (with its processes) afterwards."""
    try:
        start_ray(None, 2, None)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"Ray cannot start on this machine: {error}")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    """Two small synthetic bags with ground truth, a copy of one cut short, a realsense bag."""
    root = tmp_path_factory.mktemp("fleet_bags")
    for seed in (1, 2):
        write_bag(root / f"room{seed}", seed, 6, (120, 160))
    shutil.copytree(root / "room1", root / "broken")
    [data] = [path for path in (root / "broken").iterdir() if path.name != "metadata.yaml"]
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])  # a copy cut short
    # realsense2_camera's topic names: sgnet-replay's topic check refuses it, naming the flags.
    shutil.copytree(ROOT / "sgnet_ros" / "data" / "sample_rgbd_realsense_compressed",
                    root / "realsense")
    return root


@pytest.fixture(scope="module")
def first_run(ray_cluster, bags, tmp_path_factory):
    out = tmp_path_factory.mktemp("fleet") / "run"
    assert cli.main([str(bags), "--out", str(out), "--preview-every", "3"]) == 1  # one failed
    return out


def label_digest(out_bag) -> tuple[str, int]:
    """SHA-256 of the label images of an output bag, read back, and how many there are."""
    digest, count = hashlib.sha256(), 0
    for message in read_messages(out_bag, [LABEL_TOPIC]):
        msg = message.decode()
        labels = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian,
                              msg.data)
        digest.update(label_frame_bytes(stamp_ns(msg.header), labels))
        count += 1
    return digest.hexdigest(), count


def fleet_json(out):
    return json.loads((out / "fleet_report.json").read_text())


@pytest.mark.parametrize("name", ["room1", "room2"])
def test_each_bag_gets_exactly_what_a_direct_replay_gives(first_run, bags, tmp_path, name):
    single = tmp_path / "single"
    assert replay.main([str(bags / name), "--out", str(single), "--mode", "direct",
                        "--preview-every", "3"]) == 0
    single_report = json.loads((tmp_path / "single_report" / "report.json").read_text())
    fleet_bag = first_run / "bags" / name
    single_digest, frames = label_digest(single)
    assert frames == 6
    assert label_digest(fleet_bag / "segmentation_bag") == (single_digest, frames)
    summary = {bag["name"]: bag for bag in fleet_json(first_run)["bags"]}[name]
    assert summary["label_sha256"] == single_digest
    for key in ("frames_in", "synced", "published", "dropped", "accuracy"):
        assert summary[key] == single_report[key], key
    fleet_report = json.loads(
        (fleet_bag / "segmentation_bag_report" / "report.json").read_text())
    assert fleet_report["outputs"] == single_report["outputs"]
    previews = sorted(p.name for p in (fleet_bag / "segmentation_bag_report" / "previews")
                      .glob("*.png"))
    assert previews == sorted(p.name for p in (tmp_path / "single_report" / "previews")
                              .glob("*.png"))


def test_a_corrupt_bag_is_reported_failed_and_the_others_finish(first_run):
    report = fleet_json(first_run)
    assert [bag["name"] for bag in report["bags"]] == ["room1", "room2"]
    assert [failed["name"] for failed in report["failed"]] == ["broken", "realsense"]
    assert report["failed"][1]["error"].startswith("TopicError: ")
    assert "try --rgb-topic /camera/camera/color/image_raw" in report["failed"][1]["error"]
    assert "Error: " in report["failed"][0]["error"]  # the exception, named, and its message
    assert sorted(p.name for p in (first_run / "bags").iterdir() if not p.name.startswith(".")
                  ) == ["room1", "room2"]
    assert not list((first_run / "bags").glob(".*partial*"))
    assert f"| broken | {report['failed'][0]['error']} |" in (first_run / "fleet_report.md"
                                                              ).read_text()
    pooled = report["pooled"]
    assert pooled["published"] == 12
    assert 0.0 < pooled["accuracy"]["miou"] <= 1.0
    assert abs(sum(pooled["pixel_share"].values()) - 1.0) < 1e-9
    assert set(pooled["stage_ms"]) == {"spatial", "inference", "outputs"}
    for picture in ("latency_per_bag.png", "miou_per_bag.png", "contact_sheet.png"):
        image = cv2.imread(str(first_run / picture))
        assert image is not None and image.std() > 0, picture


def test_resume_keeps_finished_bags_and_redoes_only_the_rest(first_run, bags, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    with pytest.raises(SystemExit):  # results there and no --resume: refused
        cli.main([str(bags), "--out", str(out)])
    kept = out / "bags" / "room1" / "fleet_result.json"
    kept_stat = kept.stat()
    shutil.rmtree(out / "bags" / "room2")
    # The resumed run is the console command in its own process, on this module's cluster.
    address = ray.get_runtime_context().gcs_address
    rerun = subprocess.run([sys.executable, "-m", "sgnet_ros.fleet.cli", str(bags), "--out",
                            str(out), "--resume", "--preview-every", "3", "--address", address],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr  # the corrupt bag, again
    assert "FAILED broken" in rerun.stdout
    assert kept.stat().st_mtime_ns == kept_stat.st_mtime_ns
    assert len((out / "bags" / ".room1.attempts").read_text().splitlines()) == 1
    assert len((out / "bags" / ".room2.attempts").read_text().splitlines()) == 2
    before, after = fleet_json(first_run), fleet_json(out)
    assert [b["resumed"] for b in after["bags"]] == [True, False]
    assert [b["label_sha256"] for b in after["bags"]] == [
        b["label_sha256"] for b in before["bags"]]
    assert [f["name"] for f in after["failed"]] == ["broken", "realsense"]  # retried, again


def test_a_worker_killed_mid_bag_is_retried_without_duplicate_outputs(ray_cluster, tmp_path):
    bag = tmp_path / "long"
    write_bag(bag, 3, 16, (120, 160))
    out = tmp_path / "run"
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        rc=cli.main([str(bag), "--out", str(out), "--no-bags"])))
    runner.start()
    deadline, killed = time.monotonic() + 120, None
    while killed is None and time.monotonic() < deadline and runner.is_alive():
        for pid_file in (out / "bags").glob(".long.partial-*/worker.pid"):
            try:
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):  # not written yet, or that worker just finished
                continue
            killed = pid
        time.sleep(0.02)
    runner.join(timeout=300)
    assert killed is not None, "no worker was seen working on the bag"
    assert outcome["rc"] == 0
    attempts = (out / "bags" / ".long.attempts").read_text().split()
    assert len(attempts) == 4 and attempts[1] == str(killed) and attempts[3] != str(killed)
    report = fleet_json(out)
    assert [(b["name"], b["attempts"], b["published"]) for b in report["bags"]] == [
        ("long", 2, 16)]
    assert not list((out / "bags").glob(".*partial*"))
    assert not (out / "bags" / "long" / "segmentation_bag").exists()  # --no-bags
    result = json.loads((out / "bags" / "long" / "fleet_result.json").read_text())
    assert result["frames_hashed"] == 16 and np.isfinite(result["report"]["latency_ms"]["p50"])


NYU = ROOT / "test" / "data" / "hha" / "nyu_img5001"
NYU_CAMERA = ["--fx", "518.8579", "--fy", "519.4696", "--cx", "325.5824", "--cy", "253.7362",
              "--one-based-pixels"]


def test_sgnet_hha_on_ray_writes_the_single_process_files(ray_cluster, tmp_path):
    for kind, source in (("depth", "depth_filled_mm.png"), ("raw", "depth_raw_mm.png")):
        image = cv2.imread(str(NYU / source), cv2.IMREAD_UNCHANGED)
        (tmp_path / kind).mkdir()
        for index, (top, left) in enumerate([(0, 0), (200, 300), (100, 100), (300, 0)]):
            cv2.imwrite(str(tmp_path / kind / f"f{index}.png"),
                        image[top:top + 120, left:left + 160])
    common = [str(tmp_path / "depth"), "--raw", str(tmp_path / "raw"), *NYU_CAMERA,
              "--device", "cpu"]
    assert datasets.hha_main([*common[:1], str(tmp_path / "single"), *common[1:]]) == 0
    assert datasets.hha_main([*common[:1], str(tmp_path / "ray"), *common[1:], "--ray",
                              "--chunk-size", "1"]) == 0
    single = sorted((tmp_path / "single").glob("*.png"))
    assert [p.name for p in single] == [f"f{i}.png" for i in range(4)]
    for path in single:
        assert (tmp_path / "ray" / path.name).read_bytes() == path.read_bytes(), path.name


def test_sgnet_eval_on_ray_writes_the_single_process_json(ray_cluster, default_model, tmp_path,
                                                          capsys):
    argv = [str(default_model), "--synthetic-seeds", "2000000:2000005", "--size", "60x80"]
    assert datasets.eval_main([*argv, "--json", str(tmp_path / "single.json")]) == 0
    single_table = capsys.readouterr().out
    assert datasets.eval_main([*argv, "--json", str(tmp_path / "ray.json"), "--ray",
                               "--chunk-size", "2"]) == 0
    assert capsys.readouterr().out == single_table
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "single.json").read_bytes()
    assert json.loads((tmp_path / "single.json").read_text())["miou"] > 0


def test_bags_come_from_folders_and_lists_named_apart_never_from_the_output(bags, tmp_path):
    folder = tmp_path / "bags"
    shutil.copytree(bags, folder)
    listing = tmp_path / "bags.txt"
    listing.write_text("# two robots' runs\nbags/room1\nbags/room2  # again\nmissing_bag\n")
    out = folder / "fleet_out"  # a run's results inside the searched folder
    shutil.copytree(folder / "room1", out / "bags" / "room1" / "segmentation_bag")
    jobs = fleet_jobs([folder, listing, tmp_path / "other" / "room1"], out)
    assert [(job.bag, job.name) for job in jobs] == [
        (folder / "broken", "broken"), (folder / "realsense", "realsense"),
        (folder / "room1", "room1"), (folder / "room2", "room2"),
        (tmp_path / "missing_bag", "missing_bag"), (tmp_path / "other" / "room1", "room1-2")]
