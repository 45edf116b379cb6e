//! Helpers of the sink, listen and wire tests: pseudo-terminal pairs, a mosquitto broker
//! started and killed by PID, sample frames.

use edgepose::decoder::{Keypoint, Person};
use edgepose::pose::FramePoses;
use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::skip::have_program;
use std::time::{Duration, Instant};

/// A frame with `n` persons whose values depend on `seq`, so frames are told apart.
pub fn sample_poses(seq: u64, n: usize) -> FramePoses {
    let mut f = FramePoses {
        seq,
        timestamp_us: 1_763_700_000_000_000 + seq * 33_333,
        width: 640,
        height: 480,
        model_id: 2,
        ..FramePoses::default()
    };
    for i in 0..n {
        let mut p = Person {
            score: 0.5 + 0.05 * i as f32,
            track_id: 10 + i as u32,
            ..Person::default()
        };
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            if (k + i) % 6 != 0 {
                let x = 30.25 + 90.0 * i as f32 + 2.5 * k as f32 + (seq % 7) as f32;
                *kp = Keypoint::new(x, 40.75 + 20.0 * k as f32, 0.2 + 0.045 * k as f32);
            }
        }
        p.keypoints[16] = Keypoint::new(1000.0, -3.0, 0.9); // outside the image: clamped
        let _ = f.persons.push(p);
    }
    f
}

/// A pseudo-terminal pair. The test keeps the master; the code under test opens `slave_path`.
pub struct Pty {
    pub master: File,
    pub slave_path: PathBuf,
    /// Our own handle on the slave; dropped by [`Pty::release_slave`].
    slave: Option<OwnedFd>,
}

impl Pty {
    pub fn open() -> Pty {
        let pair = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))
            .expect("slave path via /proc/self/fd");
        // Raw mode on our side too, so nothing translates the bytes we write into the slave.
        let mut t = nix::sys::termios::tcgetattr(&pair.slave).expect("tcgetattr");
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(&pair.slave, nix::sys::termios::SetArg::TCSANOW, &t)
            .expect("tcsetattr");
        let flags =
            nix::fcntl::fcntl(&pair.master, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&pair.master, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("F_SETFL");
        Pty {
            master: File::from(pair.master),
            slave_path,
            slave: Some(pair.slave),
        }
    }

    /// Closes the test's slave handle, leaving only the code under test holding it.
    pub fn release_slave(&mut self) {
        self.slave = None;
    }

    /// Reads whatever arrives within `wait` (non-blocking master, polled).
    pub fn read_for(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.master.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(5)),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                // WouldBlock: no data yet; EIO: no slave open yet (or between reopens).
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        out
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A mosquitto broker on 127.0.0.1:`port`, killed (by PID) on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Mosquitto {
    pub fn available() -> bool {
        have_program("mosquitto", "-h")
    }

    /// Starts `mosquitto -p PORT` and waits until it accepts connections.
    pub fn start(port: u16) -> Mosquitto {
        Self::spawn(&["-p", &port.to_string()], port)
    }

    /// Starts `mosquitto -c CONF` and waits until `port` (one of its listeners) accepts
    /// connections.
    pub fn start_with_config(conf: &std::path::Path, port: u16) -> Mosquitto {
        Self::spawn(&["-c", &conf.display().to_string()], port)
    }

    fn spawn(args: &[&str], port: u16) -> Mosquitto {
        let child = Command::new("mosquitto")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        let m = Mosquitto { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain rumqttc subscriber on `filter` that resubscribes after reconnects and forwards
/// (topic, payload, retain) over a channel. Its thread ends when the receiver is dropped.
pub fn subscribe(
    port: u16,
    filter: &str,
    id: &str,
) -> std::sync::mpsc::Receiver<(String, Vec<u8>, bool)> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let (tx, rx) = std::sync::mpsc::channel();
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    // Large enough for the JSON of a crowded frame (rumqttc's default is 10 KiB).
    opts.set_keep_alive(Duration::from_secs(5))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(opts, 64);
    let filter = filter.to_owned();
    std::thread::spawn(move || loop {
        match conn.recv() {
            Err(_) => return,
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                if tx
                    .send((p.topic.clone(), p.payload.to_vec(), p.retain))
                    .is_err()
                {
                    let _ = client.try_disconnect();
                    return;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(_)) => std::thread::sleep(Duration::from_millis(100)),
        }
    });
    rx
}

/// Waits for a message matching `pred`, up to `wait`.
pub fn wait_for(
    rx: &std::sync::mpsc::Receiver<(String, Vec<u8>, bool)>,
    wait: Duration,
    mut pred: impl FnMut(&str, &[u8], bool) -> bool,
) -> Option<(String, Vec<u8>, bool)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(m) if pred(&m.0, &m.1, m.2) => return Some(m),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// The project venv's Python (`$EDGEPOSE_VENV` or models/.venv) when it can import `module`.
pub fn venv_python_with(module: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("EDGEPOSE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/.venv"));
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// The JSON-lines sink's output file, one JSON value per line (panics when missing: the run
/// was to write it).
pub fn read_jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("jsonl output exists");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}
