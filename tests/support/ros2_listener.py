"""An independent ROS 2 subscriber for the ros2 sink tests: Eclipse Cyclone DDS (PyPI
`cyclonedds`, its own C library) with the message types declared in Python IDL under the names
ROS 2's rmw layers give them (`hri_msgs::msg::dds_::IdsList_` ...) on ROS 2's DDS topic names
(`rt/humans/bodies/...`). No ROS installation is involved.

Prints one JSON object per received sample on stdout:
  {"kind": "ready"}                                       readers for tracked/detections exist
  {"kind": "tracked", "stamp_us", "frame_id", "ids"}
  {"kind": "skeleton2d", "id", "stamp_us", "frame_id", "points": [[x, y, c] x 18]}
  {"kind": "roi", "id", "stamp_us", "frame_id", "roi": [xmin, ymin, xmax, ymax, c]}
  {"kind": "detections", "stamp_us", "frame_id", "detections": [{"id", "class_id", "score",
      "cx", "cy", "w", "h"}]}
Per-body readers are created when an id first shows up in the tracked list.

Discovery is unicast to 127.0.0.1 only (no multicast needed on loopback): the peers are set
through CYCLONEDDS_URI unless the caller set that variable already.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

LOOPBACK_CONFIG = (
    "<CycloneDDS><Domain Id='any'><General><Interfaces><NetworkInterface address='127.0.0.1'/>"
    "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery>"
    "<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>40</MaxAutoParticipantIndex>"
    "<Peers><Peer Address='127.0.0.1'/></Peers></Discovery></Domain></CycloneDDS>"
)
os.environ.setdefault("CYCLONEDDS_URI", LOOPBACK_CONFIG)

from cyclonedds.core import Policy, Qos  # noqa: E402
from cyclonedds.domain import DomainParticipant  # noqa: E402
from cyclonedds.idl import IdlStruct  # noqa: E402
from cyclonedds.idl.types import array, float32, float64, int32, sequence, uint32  # noqa: E402
from cyclonedds.sub import DataReader  # noqa: E402
from cyclonedds.topic import Topic  # noqa: E402
from cyclonedds.util import duration  # noqa: E402


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class IdsList(IdlStruct, typename="hri_msgs::msg::dds_::IdsList_"):
    header: Header
    ids: sequence[str]


@dataclass
class NormalizedPointOfInterest2D(
    IdlStruct, typename="hri_msgs::msg::dds_::NormalizedPointOfInterest2D_"
):
    x: float32
    y: float32
    c: float32


@dataclass
class Skeleton2D(IdlStruct, typename="hri_msgs::msg::dds_::Skeleton2D_"):
    header: Header
    skeleton: array[NormalizedPointOfInterest2D, 18]


@dataclass
class NormalizedRegionOfInterest2D(
    IdlStruct, typename="hri_msgs::msg::dds_::NormalizedRegionOfInterest2D_"
):
    header: Header
    xmin: float32
    ymin: float32
    xmax: float32
    ymax: float32
    c: float32


@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@dataclass
class Pose(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point
    orientation: Quaternion


@dataclass
class PoseWithCovariance(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose
    covariance: array[float64, 36]


@dataclass
class ObjectHypothesis(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesis_"):
    class_id: str
    score: float64


@dataclass
class ObjectHypothesisWithPose(
    IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesisWithPose_"
):
    hypothesis: ObjectHypothesis
    pose: PoseWithCovariance


@dataclass
class Point2D(IdlStruct, typename="vision_msgs::msg::dds_::Point2D_"):
    x: float64
    y: float64


@dataclass
class Pose2D(IdlStruct, typename="vision_msgs::msg::dds_::Pose2D_"):
    position: Point2D
    theta: float64


@dataclass
class BoundingBox2D(IdlStruct, typename="vision_msgs::msg::dds_::BoundingBox2D_"):
    center: Pose2D
    size_x: float64
    size_y: float64


@dataclass
class Detection2D(IdlStruct, typename="vision_msgs::msg::dds_::Detection2D_"):
    header: Header
    results: sequence[ObjectHypothesisWithPose]
    bbox: BoundingBox2D
    id: str


@dataclass
class Detection2DArray(IdlStruct, typename="vision_msgs::msg::dds_::Detection2DArray_"):
    header: Header
    detections: sequence[Detection2D]


def stamp_us(h):
    return h.stamp.sec * 1_000_000 + h.stamp.nanosec // 1000


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", type=int, required=True)
    ap.add_argument("--namespace", default="")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    ns = args.namespace.strip("/")
    prefix = "rt/" + (ns + "/" if ns else "")

    # Reliable like the publisher (a reliable reader checks that the writer offers it).
    qos = Qos(
        Policy.Reliability.Reliable(duration(seconds=1)),
        Policy.Durability.Volatile,
        Policy.History.KeepLast(50),
    )
    dp = DomainParticipant(args.domain)

    def reader(name, typ):
        return DataReader(dp, Topic(dp, prefix + name, typ), qos=qos)

    tracked = reader("humans/bodies/tracked", IdsList)
    detections = reader("detections", Detection2DArray)
    bodies = {}
    emit({"kind": "ready"})
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        got = False
        for s in tracked.take(N=100):
            if not isinstance(s, IdsList):
                continue
            got = True
            ids = list(s.ids)
            for i in ids:
                if i not in bodies:
                    bodies[i] = (
                        reader(f"humans/bodies/{i}/skeleton2d", Skeleton2D),
                        reader(f"humans/bodies/{i}/roi", NormalizedRegionOfInterest2D),
                    )
            emit({"kind": "tracked", "stamp_us": stamp_us(s.header),
                  "frame_id": s.header.frame_id, "ids": ids})
        for i, (sk, roi) in bodies.items():
            for s in sk.take(N=100):
                if isinstance(s, Skeleton2D):
                    got = True
                    emit({"kind": "skeleton2d", "id": i, "stamp_us": stamp_us(s.header),
                          "frame_id": s.header.frame_id,
                          "points": [[p.x, p.y, p.c] for p in s.skeleton]})
            for s in roi.take(N=100):
                if isinstance(s, NormalizedRegionOfInterest2D):
                    got = True
                    emit({"kind": "roi", "id": i, "stamp_us": stamp_us(s.header),
                          "frame_id": s.header.frame_id,
                          "roi": [s.xmin, s.ymin, s.xmax, s.ymax, s.c]})
        for s in detections.take(N=100):
            if not isinstance(s, Detection2DArray):
                continue
            got = True
            emit({"kind": "detections", "stamp_us": stamp_us(s.header),
                  "frame_id": s.header.frame_id,
                  "detections": [{"id": d.id, "class_id": d.results[0].hypothesis.class_id,
                                  "score": d.results[0].hypothesis.score,
                                  "cx": d.bbox.center.position.x, "cy": d.bbox.center.position.y,
                                  "w": d.bbox.size_x, "h": d.bbox.size_y}
                                 for d in s.detections]})
        if not got:
            time.sleep(0.01)


if __name__ == "__main__":
    main()
