"""The shipped Fast DDS profile: loopback only, a segment for 6 MB messages, and it connects."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sgnet_ros.benchmarks.transport_check import run_pair
from sgnet_ros.ros.dds_profile import PROFILE_VARIABLE, PROFILE_VARIABLES, profile_path
from sgnet_ros.ros.environment import claim_domain_id, isolated_ros_environment
from sgnet_ros.ros.launch_config import node_environment

NS = {"dds": "http://www.eprosima.com"}
CLOUD_BYTES = 640 * 480 * 20  # the organized cloud: x y z rgb label, 4 bytes each


def test_profile_keeps_everything_on_loopback_and_fits_several_clouds():
    root = ET.parse(profile_path()).getroot()
    addresses = [element.text for element in root.iter("{http://www.eprosima.com}address")]
    assert addresses and set(addresses) == {"127.0.0.1"}
    assert not list(root.iter("{http://www.eprosima.com}metatrafficMulticastLocatorList"))
    interfaces = [e.get("name") for e in root.iter("{http://www.eprosima.com}interface")]
    assert interfaces == ["127.0.0.1"]
    shm = next(d for d in root.iter("{http://www.eprosima.com}transport_descriptor")
               if d.find("dds:type", NS).text == "SHM")
    assert int(shm.find("dds:segment_size", NS).text) >= 8 * CLOUD_BYTES
    rtps = root.find("dds:profiles/dds:participant/dds:rtps", NS)
    assert rtps.find("dds:useBuiltinTransports", NS).text == "false"


def test_children_get_the_profile_or_rmw_defaults_never_a_stale_one():
    plain = isolated_ros_environment(7, base={"ROS_DISTRO": "kilted"})
    assert plain["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST", "the default stays LOCALHOST"
    assert not any(v in plain for v in PROFILE_VARIABLES)
    configured = isolated_ros_environment(7, base={"ROS_DISTRO": "kilted",
                                                   "SGNET_ROS_TRANSPORT": "configured"})
    assert configured["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SYSTEM_DEFAULT"
    assert configured[PROFILE_VARIABLE] == str(profile_path())
    stale = {**configured, "FASTRTPS_DEFAULT_PROFILES_FILE": "/elsewhere.xml"}
    default = isolated_ros_environment(7, base=stale, transport="default")
    assert default["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert not any(v in default for v in PROFILE_VARIABLES)
    assert node_environment("inherit") == {}
    assert node_environment("configured")[PROFILE_VARIABLE] == str(profile_path())


def test_a_cloud_sized_message_crosses_processes_with_the_profile_loaded():
    result = run_pair("configured", claim_domain_id(), CLOUD_BYTES, messages=5, timeout_s=30)
    assert result["received"] >= 5, result["errors"]
    assert "XMLPARSER" not in result["errors"] and "Error" not in result["errors"], \
        result["errors"]
