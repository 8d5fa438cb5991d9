//! A real `nats-server` on a loopback port, started and stopped by the
//! test or bench that owns it (never a mock). `.ci/test` installs Debian's
//! `nats-server` when it is missing; `NATS_SERVER` names another binary.
//!
//! Shared by the bridge's tests, the command's tests and the bridge bench
//! (`#[path]` includes), so there is one way to run the server.

#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process; killed, and its JetStream store removed, on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
    jetstream: bool,
}

/// The server binary: `$NATS_SERVER`, or `nats-server` on the path.
pub fn binary() -> String {
    std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into())
}

/// Whether the server binary runs here.
pub fn available() -> bool {
    Command::new(binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl NatsServer {
    /// Starts a server on a free loopback port, with JetStream (its store in
    /// a fresh temporary directory) if asked.
    pub fn start(jetstream: bool) -> NatsServer {
        assert!(
            available(),
            "nats-server is not installed: `apt-get install nats-server` (.ci/test does it), or set NATS_SERVER"
        );
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let store = std::env::temp_dir().join(format!("slotcast-nats-{}-{port}", std::process::id()));
        let mut server = NatsServer { child: None, port, store, jetstream };
        server.spawn();
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(binary());
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        if self.jetstream {
            cmd.arg("-js").arg("-sd").arg(&self.store);
        }
        self.child = Some(cmd.spawn().expect("start nats-server"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on port {} within 20 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: what it held in memory is gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same JetStream store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
