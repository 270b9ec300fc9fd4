//! Helpers for tests that run on the project's BlueZ test bed (`testbed/run`), for this
//! crate's tests and for yours.
//!
//! The test bed exports `TESTBED=1` and the controllers' addresses as `TESTBED_ADDR0`,
//! `TESTBED_ADDR1`, …; [`Testbed::from_env`] reads them. Mark tests that need it
//! `#[ignore = "needs the BlueZ test bed"]` so a plain `cargo test` reports them as not
//! run, and run them inside the bed with `--ignored`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::BluetoothAddress;

/// The controllers of the test bed this process runs in.
#[derive(Debug, Clone)]
pub struct Testbed {
    addresses: Vec<BluetoothAddress>,
}

impl Testbed {
    /// The test bed's controllers, from the environment `testbed/run` sets up.
    ///
    /// # Panics
    /// Outside the test bed (no `TESTBED_ADDR0`), or with a malformed address: a test
    /// that needs Bluetooth must not pass without it.
    pub fn from_env() -> Testbed {
        let mut addresses = Vec::new();
        while let Ok(v) = std::env::var(format!("TESTBED_ADDR{}", addresses.len())) {
            addresses.push(v.parse().unwrap_or_else(|e| panic!("TESTBED_ADDR: {e}")));
        }
        assert!(
            !addresses.is_empty(),
            "TESTBED_ADDR0 is not set: this test needs the BlueZ test bed (scripts/test-bluetooth)"
        );
        Testbed { addresses }
    }

    /// How many controllers there are.
    pub fn controllers(&self) -> usize {
        self.addresses.len()
    }

    /// Controller `hci{i}`'s address.
    ///
    /// # Panics
    /// If there is no such controller.
    pub fn address(&self, i: usize) -> BluetoothAddress {
        self.addresses[i]
    }

    /// The ACL links `hci{i}` lists (from `hcitool con`), as the peers' addresses.
    pub fn links(&self, i: usize) -> Vec<BluetoothAddress> {
        let out = Command::new("hcitool")
            .args(["-i", &format!("hci{i}"), "con"])
            .output()
            .expect("hcitool runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("ACL"))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
            .collect()
    }

    /// Waits, for at most 15 s, until neither `hci{a}` nor `hci{b}` has any ACL link, so
    /// that the next connection between them makes a fresh link on quiet controllers.
    ///
    /// A connect that meets a link being torn down fails with ECONNRESET: the kernel
    /// drops an idle link about 2 s after its last channel closed, each side forgets it
    /// only when its own Disconnection Complete event arrives, and a page to a controller
    /// that is still tearing down a link to a third one fails the same way. So both
    /// controllers are checked, for links to anyone.
    ///
    /// # Panics
    /// If a link is still up after 15 s.
    pub fn settle(&self, a: usize, b: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (la, lb) = (self.links(a), self.links(b));
            if la.is_empty() && lb.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "links still up after 15 s: hci{a} {la:?}, hci{b} {lb:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
