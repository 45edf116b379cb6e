//! Sinks and `edgepose listen`: MQTT (plain and TLS, a real mosquitto), serial over a pseudo-terminal, the wire format from Python, ROS 2 (feature `ros2`) against Cyclone DDS.
//!
//! One binary per area (link time); the modules are in `tests/sinks/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod sinks {
    mod listen_mqtt;
    mod listen_serial;
    mod mqtt;
    mod mqtt_tls;
    mod ros2;
    mod serial;
    mod wire_python;
}
