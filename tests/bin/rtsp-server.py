#!/usr/bin/python3
"""A real RTSP server on 127.0.0.1 for the network-stream tests (GStreamer's gst-rtsp-server).

Usage: rtsp-server.py PORT [RGB_HEX] — serves rtsp://127.0.0.1:PORT/cam: a live 320x240,
15 fps solid-colour picture as RTP/JPEG. Prints "ready" once it listens. Needs
`apt install gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good python3-gi`.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    port = sys.argv[1]
    rgb = sys.argv[2] if len(sys.argv) > 2 else "3366cc"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=solid-color "
        f"foreground-color=0xff{rgb} ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 "
        "! jpegenc quality=90 ! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot listen on port", port, file=sys.stderr)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
