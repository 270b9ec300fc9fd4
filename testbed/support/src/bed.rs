//! The project's BlueZ test bed (`testbed/run`) as its tests see it.
//!
//! The test bed exports `TESTBED=1` and the controllers' addresses as `TESTBED_ADDR0`,
//! `TESTBED_ADDR1`, …; [`Testbed::from_env`] reads them. Mark tests that need it
//! `#[ignore = "needs the BlueZ test bed"]` so a plain `cargo test` reports them as not
//! run, and run them inside the bed with `--ignored`.
//!
//! In the two-host mode (`testbed/run --hosts N`) each guest is its own host with one
//! controller and its own bluetoothd. The same test binary runs on every host, one test
//! at a time in the same order; a test asks [`Testbed::host`] for its role, meets the
//! other hosts at [`Testbed::barrier`]s and finds their addresses with
//! [`Testbed::host_address`].

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sigloop_bluetooth::{raw, BluetoothAddress, Protocol};

/// How long a host waits for the others at a barrier.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(120);

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

    /// This host's name (`a`, `b`, …) in the two-host mode; `None` in one guest.
    pub fn host(&self) -> Option<String> {
        std::env::var("TESTBED_HOST").ok()
    }

    /// Every host's name, in order, in the two-host mode; empty in one guest.
    pub fn hosts(&self) -> Vec<String> {
        std::env::var("TESTBED_HOSTS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    /// The address of host `name`'s controller, in the two-host mode.
    ///
    /// # Panics
    /// Outside the two-host mode, or if there is no such host.
    pub fn host_address(&self, name: &str) -> BluetoothAddress {
        let var = format!("TESTBED_HOST_{}", name.to_uppercase());
        std::env::var(&var)
            .unwrap_or_else(|_| panic!("{var} is not set: this test needs testbed/run --hosts"))
            .parse()
            .unwrap_or_else(|e| panic!("{var}: {e}"))
    }

    /// Waits until every host of the two-host mode has reached the barrier `name`
    /// (a file per host in the directory they share). Names must be unique per run and
    /// start with the test's name and a dot (`two_host_x.ready`), so that a host whose
    /// part of that test failed (see [`fail_together`](Self::fail_together)) releases
    /// the others at once.
    ///
    /// # Panics
    /// Outside the two-host mode; if another host failed this test, or its command ended
    /// before reaching the barrier, or after 120 s: a peer that is gone must fail the
    /// test, not hang it.
    pub fn barrier(&self, name: &str) {
        let dir = PathBuf::from(
            std::env::var("TESTBED_RDV")
                .expect("TESTBED_RDV is not set: needs testbed/run --hosts"),
        );
        let me = self.host().expect("TESTBED_HOST is set");
        let mark = |host: &str| dir.join(format!("barrier.{name}.{host}"));
        let test = name.split('.').next().unwrap_or(name);
        std::fs::write(mark(&me), b"").expect("the rendezvous directory is writable");
        let deadline = Instant::now() + BARRIER_TIMEOUT;
        for host in self.hosts() {
            while !mark(&host).exists() {
                if let Err(e) = self.check_peers(test) {
                    panic!("{e}, before reaching barrier {name}");
                }
                assert!(
                    !dir.join(format!("{host}.ended")).exists(),
                    "host {host} ended before reaching barrier {name}"
                );
                assert!(
                    Instant::now() < deadline,
                    "host {host} did not reach barrier {name} within {BARRIER_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Whether `host` has reached barrier `name` (see [`barrier`](Self::barrier)), without
    /// waiting: for a host that must keep its event loop running meanwhile. `false`
    /// outside the two-host mode.
    pub fn has_reached(&self, name: &str, host: &str) -> bool {
        std::env::var("TESTBED_RDV").is_ok_and(|dir| {
            PathBuf::from(dir)
                .join(format!("barrier.{name}.{host}"))
                .exists()
        })
    }

    /// `Err` naming the host if another host has failed its part of two-host test
    /// `test` (see [`fail_together`](Self::fail_together)); `Ok` outside that mode.
    pub fn check_peers(&self, test: &str) -> Result<(), String> {
        let Ok(dir) = std::env::var("TESTBED_RDV") else {
            return Ok(());
        };
        match self.hosts().into_iter().find(|h| {
            PathBuf::from(&dir)
                .join(format!("failed.{test}.{h}"))
                .exists()
        }) {
            Some(host) => Err(format!("host {host} failed in {test}")),
            None => Ok(()),
        }
    }

    /// A guard for this host's part of two-host test `test`: if the test panics while it
    /// lives, the other hosts waiting at that test's barriers fail at once instead of
    /// waiting out the timeout, and every host reaches the next test in step.
    pub fn fail_together(&self, test: &str) -> FailTogether {
        FailTogether {
            mark: std::env::var("TESTBED_RDV").ok().and_then(|dir| {
                let host = self.host()?;
                Some(PathBuf::from(dir).join(format!("failed.{test}.{host}")))
            }),
        }
    }

    /// Opens an encrypted ACL link to `peer` and holds it while the returned guard
    /// lives: an L2CAP channel to the peer's SDP server (PSM 1) at security medium.
    ///
    /// Use it on the side that will *accept* a connection, before the peer connects.
    /// When an ACL link gets encrypted, each kernel asks its controller for the key size
    /// and, until the answer comes, refuses incoming L2CAP connection requests (RFCOMM
    /// included) with "security block", so a peer connecting over a fresh link can be
    /// refused by chance (seen often between slow emulated hosts). The SDP PSM is exempt
    /// from that check, and this connect returns only once this side's key size is
    /// known, so connections from the peer over the held link are never refused for it.
    ///
    /// # Errors
    /// The connect's OS error.
    pub fn hold_link(&self, peer: BluetoothAddress) -> std::io::Result<HeldLink> {
        self.hold_link_from(BluetoothAddress::ANY, peer)
    }

    /// [`hold_link`](Self::hold_link) from the local controller `local` (in one guest,
    /// which of its controllers holds the link).
    ///
    /// # Errors
    /// The bind's or connect's OS error.
    pub fn hold_link_from(
        &self,
        local: BluetoothAddress,
        peer: BluetoothAddress,
    ) -> std::io::Result<HeldLink> {
        let fd = raw::socket(Protocol::L2cap, false)?;
        raw::bind(fd.as_fd(), Protocol::L2cap, local, 0)?;
        raw::set_security_level(fd.as_fd(), 2)?;
        raw::connect(fd.as_fd(), Protocol::L2cap, peer, 1)?;
        Ok(HeldLink { _fd: fd })
    }

    /// Waits, for at most 15 s, until this host's controller (`hci0`) has no ACL link:
    /// the two-host counterpart of [`settle`](Self::settle).
    ///
    /// # Panics
    /// If a link is still up after 15 s.
    pub fn settle_host(&self) {
        self.settle_controllers(&[0], "ACL");
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
        self.links_of(i, "ACL")
    }

    /// The links of one kind (`ACL` or `LE`, `hcitool con`'s second column) that `hci{i}`
    /// lists, as the peers' addresses.
    fn links_of(&self, i: usize, kind: &str) -> Vec<BluetoothAddress> {
        let out = Command::new("hcitool")
            .args(["-i", &format!("hci{i}"), "con"])
            .output()
            .expect("hcitool runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(kind))
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
        self.settle_controllers(&[a, b], "ACL");
    }

    /// The LE links `hci{i}` lists (from `hcitool con`), as the peers' addresses.
    pub fn le_links(&self, i: usize) -> Vec<BluetoothAddress> {
        self.links_of(i, "LE")
    }

    /// Waits, for at most 15 s, until neither `hci{a}` nor `hci{b}` has an LE link: a
    /// new LE link made while the last one is still being torn down was seen dropped at
    /// once (bluetoothd could not raise the new ATT channel's security, and both sides
    /// then reported the link closed by the other).
    ///
    /// # Panics
    /// If a link is still up after 15 s.
    pub fn settle_le(&self, a: usize, b: usize) {
        self.settle_controllers(&[a, b], "LE");
    }

    /// Waits, for at most 15 s, until none of `controllers` has a link of `kind`.
    fn settle_controllers(&self, controllers: &[usize], kind: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let up: Vec<_> = controllers
                .iter()
                .map(|&i| (i, self.links_of(i, kind)))
                .filter(|(_, links)| !links.is_empty())
                .collect();
            if up.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{kind} links still up after 15 s: {}",
                up.iter()
                    .map(|(i, links)| format!("hci{i} {links:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An ACL link held open by [`Testbed::hold_link`]. Dropping it closes its channel; the
/// kernel then drops the idle link about 2 s later.
#[must_use = "the link is held only while this lives"]
#[derive(Debug)]
pub struct HeldLink {
    _fd: OwnedFd,
}

/// Returned by [`Testbed::fail_together`]; on drop during a panic it tells the other
/// hosts that this host's part of the test failed.
#[must_use = "the other hosts are told of a failure only while this lives"]
#[derive(Debug)]
pub struct FailTogether {
    mark: Option<PathBuf>,
}

impl Drop for FailTogether {
    fn drop(&mut self) {
        if let (true, Some(mark)) = (std::thread::panicking(), &self.mark) {
            let _ = std::fs::write(mark, b"");
        }
    }
}
