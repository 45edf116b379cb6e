"""Reads edgepose MCAP recordings with the `mcap` package (an independent reader) and prints
one JSON object: per file its channels (topic, schema name and encoding, message encoding),
message counts per topic, the /poses sequence numbers, the image formats and magic bytes, and
the annotation types seen. Used by tests/daemon/recorder.rs."""

import base64
import json
import sys

from mcap.reader import make_reader


def summarize(path):
    out = {"channels": {}, "counts": {}, "pose_seqs": [], "image_formats": [],
           "image_magic": [], "annotation_types": [], "stats_keys": [], "summary_counts": {}}
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        if summary is not None and summary.statistics is not None:
            for cid, n in summary.statistics.channel_message_counts.items():
                out["summary_counts"][summary.channels[cid].topic] = n
        for schema, channel, message in reader.iter_messages():
            out["channels"][channel.topic] = {
                "schema": schema.name if schema else None,
                "schema_encoding": schema.encoding if schema else None,
                "message_encoding": channel.message_encoding,
            }
            out["counts"][channel.topic] = out["counts"].get(channel.topic, 0) + 1
            body = json.loads(message.data)
            if channel.topic == "/poses":
                out["pose_seqs"].append(body["seq"])
            elif channel.topic == "/camera/image":
                out["image_formats"].append(body["format"])
                out["image_magic"].append(base64.b64decode(body["data"])[:4].hex())
            elif channel.topic == "/camera/annotations":
                for p in body["points"]:
                    if p["type"] not in out["annotation_types"]:
                        out["annotation_types"].append(p["type"])
            elif channel.topic == "/stats":
                out["stats_keys"] = sorted(body.keys())
    return out


print(json.dumps({p: summarize(p) for p in sys.argv[1:]}))
