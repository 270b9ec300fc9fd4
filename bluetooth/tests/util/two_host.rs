//! Helpers for the tests between two hosts of the test bed (`testbed/run --hosts 2`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sigloop_testbed::{FailTogether, Testbed};

/// What a host does in a two-host test: host `a` serves, host `b` connects.
pub enum Role {
    Server,
    Client,
}

/// This host's role; both hosts start the test together on links that are gone. The
/// guard makes a failure on one host fail the other at once.
pub fn begin(bed: &Testbed, test: &str) -> (Role, FailTogether) {
    let guard = bed.fail_together(test);
    bed.settle_host();
    bed.barrier(&format!("{test}.start"));
    let role = match bed.host().as_deref() {
        Some("a") => Role::Server,
        Some("b") => Role::Client,
        other => panic!("two-host tests run on hosts a and b, not {other:?}"),
    };
    (role, guard)
}

/// A Qt 6 script of `testbed/qt/` (PyQt6) started with `args`: its stdout lines as they
/// come (each also echoed on stderr, for the test's log).
pub fn qt_script(script: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let path = format!("{}/../testbed/qt/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("/usr/bin/python3")
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 runs {path}: {e}"));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let name = script.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("{name}: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (at most 90 s) for `child` to exit with success; fails at once when the other
/// host fails `test`.
pub fn wait_exit(bed: &Testbed, test: &str, mut child: Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Err(e) = bed.check_peers(test) {
            let _ = child.kill();
            panic!("{e}");
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
