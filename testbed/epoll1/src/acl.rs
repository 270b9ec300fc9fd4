//! The second guard: ACL data reaches the receiving controller under the receiver's own
//! connection handle.
//!
//! Why the test bed needs it: btvirt (BlueZ 5.66 `emulator/btdev.c`, `send_acl`, unchanged
//! upstream since) forwards an ACL packet from one virtual controller to the other end of
//! its link with the packet's header untouched, so the receiver gets it under the
//! *sender's* connection handle. Each controller numbers its links on its own (the lowest
//! free handle from 42 up), so the two ends of a link agree only while neither end has
//! another link. With three controllers they soon disagree: hci1 ↔ hci0 gets 42 on both
//! sides, and hci2 ↔ hci0 made while that link lives gets 43 on hci0 but 42 on hci2. Then
//! whatever hci2 sends reaches hci0 as traffic of its link to hci1, what hci0 sends to
//! hci2 reaches hci2 under a handle it does not know ("ACL packet for unknown connection
//! handle 43" in the kernel log), and connects between hci2 and hci0 hang until a link
//! is dropped (ECONNRESET).
//!
//! The guard watches btvirt's `/dev/vhci` descriptors, one per controller. From the events
//! btvirt writes to each it learns that controller's address (Read BD_ADDR) and its links
//! (Connection Complete, LE Connection Complete, Disconnection Complete, Reset). btvirt
//! reads one packet per `read` and forwards an ACL packet inside that same call
//! (`read` → `send_acl` → `writev` to the receiver), so the ACL packet written to a
//! controller is the one last read from the sender: the guard looks up the sender's link
//! by the packet's handle, finds the receiver's link to the sender and writes the packet
//! under that handle. Anything it cannot place goes through unchanged, as before.
//! btvirt's server mode (`btvirt -s`, the two-host bed) reads byte streams from sockets
//! and is not covered.
//!
//! A second btvirt slip of the same kind, in its LE connections (`le_conn_complete`,
//! `le_ext_conn_complete`): the peripheral's LE Connection Complete carries the
//! *central's* handle, though btvirt itself files the link under the peripheral's own
//! (the lowest free from 42). A peripheral with a link already under that handle then
//! holds two links under one handle: the kernel refuses the second ("kobject_add_internal
//! failed for hci1:42 with -EEXIST", "failed to register connection device") and what the
//! second central sends goes astray. Seen when two centrals (hci0, hci2) linked to one
//! peripheral (hci1). The guard writes the peripheral's own handle into that event, and
//! into the LE Advertising Set Terminated event that follows it (the same slip).
//!
//! And a third: the LE events btvirt sends to the other end of a link in answer to a
//! command (LE Long Term Key Request after LE Start Encryption, LE Remote Connection
//! Parameter Request and LE Connection Update Complete after LE Connection Update) carry
//! the *sender's* handle, as ACL data does. With the handles apart, the peripheral
//! answered the second central's key request for its link to the first (both
//! encrypted that one; the second never got encrypted and its GATT client never
//! resolved a service). The guard places these as it places ACL data: the command btvirt
//! read last names the sender and its handle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use libc::{c_int, c_void, iovec, size_t, ssize_t};

/// H4 packet types.
const H4_ACL: u8 = 0x02;
const H4_EVENT: u8 = 0x04;

/// HCI events and command opcodes the guard reads.
const EVT_CONN_COMPLETE: u8 = 0x03;
const EVT_DISCONN_COMPLETE: u8 = 0x05;
const EVT_CMD_COMPLETE: u8 = 0x0e;
const EVT_LE_META: u8 = 0x3e;
const LE_CONN_COMPLETE: u8 = 0x01;
const LE_ENHANCED_CONN_COMPLETE: u8 = 0x0a;
const LE_ADV_SET_TERMINATED: u8 = 0x12;
const LE_CONN_UPDATE_COMPLETE: u8 = 0x03;
const LE_LTK_REQUEST: u8 = 0x05;
const LE_CONN_PARAM_REQUEST: u8 = 0x06;
const H4_COMMAND: u8 = 0x01;
/// Commands whose answer btvirt sends to the link's other end under the sender's handle
/// (the command's first parameter): LE Connection Update, LE Start Encryption.
const OP_LE_CONN_UPDATE: u16 = 0x2013;
const OP_LE_START_ENCRYPT: u16 = 0x2019;
/// LE connection roles.
const ROLE_PERIPHERAL: u8 = 0x01;
/// btvirt's first connection handle (`ACL_HANDLE`); each controller takes the lowest free
/// one from here.
const FIRST_HANDLE: u16 = 42;
const OP_READ_BD_ADDR: u16 = 0x1009;
const OP_RESET: u16 = 0x0c03;
const LINK_ACL: u8 = 0x01;

type Addr = [u8; 6];

/// Which transport a link is on. Two controllers may hold a classic and an LE link to
/// each other at once (a classic test's link not yet dropped when an LE test connects),
/// often under the same two handles: a packet goes to the receiver's link of its own
/// kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Classic,
    Le,
}

/// One controller (one `/dev/vhci` descriptor of btvirt's).
#[derive(Debug, Default)]
struct Controller {
    addr: Option<Addr>,
    /// Connection handle → the peer's address and the link's kind.
    links: BTreeMap<u16, (Addr, Kind)>,
    /// The newest LE link as peripheral whose handle was set right: (btvirt's, right).
    le_fixed: Option<(u16, u16)>,
}

/// What the guard knows, by descriptor, and the ACL packet btvirt read last.
#[derive(Debug, Default)]
pub(crate) struct Translator {
    controllers: BTreeMap<c_int, Controller>,
    /// (descriptor, handle) of the ACL packet, or of the command answered at the other
    /// end, read last, while no other packet was read.
    last_acl: Option<(c_int, u16)>,
    /// Translations already reported: (sender's descriptor, its handle, receiver's).
    reported: BTreeSet<(c_int, u16, c_int)>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn addr(b: &[u8], at: usize) -> Option<Addr> {
    b.get(at..at + 6)?.try_into().ok()
}

impl Translator {
    pub(crate) const fn new() -> Self {
        Translator {
            controllers: BTreeMap::new(),
            last_acl: None,
            reported: BTreeSet::new(),
        }
    }

    /// btvirt read `packet` from controller `fd`'s host (an H4 packet, type byte first).
    pub(crate) fn on_read(&mut self, fd: c_int, packet: &[u8]) {
        self.last_acl = match packet {
            [H4_ACL, ..] => le16(packet, 1).map(|h| (fd, h & 0x0fff)),
            // [0x01][opcode][plen][handle]...
            [H4_COMMAND, ..]
                if matches!(
                    le16(packet, 1),
                    Some(OP_LE_CONN_UPDATE | OP_LE_START_ENCRYPT)
                ) =>
            {
                le16(packet, 4).map(|h| (fd, h & 0x0fff))
            }
            _ => None,
        };
    }

    /// btvirt writes `packet` to controller `fd`'s host: learns from events, and gives
    /// an ACL packet the receiver's handle for its link to the sender. Returns a line for
    /// btvirt's log the first time a link's packets are given another handle.
    pub(crate) fn on_write(&mut self, fd: c_int, packet: &mut [u8]) -> Option<String> {
        match packet.first() {
            Some(&H4_EVENT) => {
                let note = self.fix_le_handle(fd, packet);
                self.learn(fd, packet);
                // [0x04][0x3e][plen][subevent]: the handle first, or after a status.
                let at = match (packet.get(1), packet.get(3)) {
                    (Some(&EVT_LE_META), Some(&LE_LTK_REQUEST | &LE_CONN_PARAM_REQUEST)) => 4,
                    (Some(&EVT_LE_META), Some(&LE_CONN_UPDATE_COMPLETE)) => 5,
                    _ => return note,
                };
                note.or(self.translate(fd, packet, at))
            }
            Some(&H4_ACL) => self.translate(fd, packet, 1),
            _ => None,
        }
    }

    /// Forgets descriptor `fd` (closed).
    pub(crate) fn forget(&mut self, fd: c_int) {
        self.controllers.remove(&fd);
        self.reported
            .retain(|&(from, _, to)| from != fd && to != fd);
        if self.last_acl.is_some_and(|(f, _)| f == fd) {
            self.last_acl = None;
        }
    }

    /// Gives a peripheral's LE Connection Complete (and the Advertising Set Terminated
    /// after it) the peripheral's own handle, which btvirt gives the link on its side: the
    /// lowest free from 42, among the links the guard knows this controller to have.
    fn fix_le_handle(&mut self, fd: c_int, packet: &mut [u8]) -> Option<String> {
        // [0x04][0x3e][plen][subevent][status]...
        if packet.get(1) != Some(&EVT_LE_META) || packet.get(4) != Some(&0) {
            return None;
        }
        let c = self.controllers.entry(fd).or_default();
        // Handle at packet[5..7] in both connection events: [status][handle][role]...
        // [status][adv handle][conn handle][events] in the terminated one: packet[6..8].
        let at = match packet.get(3) {
            Some(&LE_CONN_COMPLETE | &LE_ENHANCED_CONN_COMPLETE) => {
                if packet.get(7) != Some(&ROLE_PERIPHERAL) {
                    return None;
                }
                let given = le16(packet, 5)? & 0x0fff;
                let mut own = FIRST_HANDLE;
                while c.links.contains_key(&own) {
                    own += 1;
                }
                c.le_fixed = (own != given).then_some((given, own));
                5
            }
            Some(&LE_ADV_SET_TERMINATED) => 6,
            _ => return None,
        };
        let (given, own) = c.le_fixed?;
        let handle = le16(packet, at)?;
        if handle & 0x0fff != given {
            return None;
        }
        let [lo, hi] = ((handle & 0xf000) | own).to_le_bytes();
        packet[at] = lo;
        packet[at + 1] = hi;
        (at == 5).then(|| {
            format!(
                "testbed ACL guard: {}: LE link as peripheral under {own}, not btvirt's {given}\n",
                c.addr.map_or_else(|| "?".into(), show)
            )
        })
    }

    fn learn(&mut self, fd: c_int, packet: &[u8]) {
        // [0x04][event][plen][parameters]
        let (Some(&event), Some(p)) = (packet.get(1), packet.get(3..)) else {
            return;
        };
        let c = self.controllers.entry(fd).or_default();
        match event {
            // [ncmd][opcode][status][return parameters]
            EVT_CMD_COMPLETE => match (le16(p, 1), p.get(3)) {
                (Some(OP_READ_BD_ADDR), Some(0)) => c.addr = addr(p, 4),
                (Some(OP_RESET), Some(0)) => c.links.clear(),
                _ => {}
            },
            // [status][handle][bdaddr][link type][encryption]
            EVT_CONN_COMPLETE => {
                if let (Some(0), Some(h), Some(peer), Some(&LINK_ACL)) =
                    (p.first(), le16(p, 1), addr(p, 3), p.get(9))
                {
                    c.links.insert(h & 0x0fff, (peer, Kind::Classic));
                }
            }
            // [status][handle][reason]
            EVT_DISCONN_COMPLETE => {
                if let (Some(0), Some(h)) = (p.first(), le16(p, 1)) {
                    c.links.remove(&(h & 0x0fff));
                }
            }
            // [subevent][status][handle][role][peer address type][peer address]...
            EVT_LE_META => {
                if let (Some(&LE_CONN_COMPLETE | &LE_ENHANCED_CONN_COMPLETE), Some(0)) =
                    (p.first(), p.get(1))
                {
                    if let (Some(h), Some(peer)) = (le16(p, 2), addr(p, 6)) {
                        c.links.insert(h & 0x0fff, (peer, Kind::Le));
                    }
                }
            }
            _ => {}
        }
    }

    /// Gives the handle at `packet[at..at + 2]`, the sender's (the packet read last), the
    /// receiver's handle for its link of the same kind to the sender.
    fn translate(&mut self, to: c_int, packet: &mut [u8], at: usize) -> Option<String> {
        let (from, handle) = self.last_acl?;
        if from == to || packet.len() < at + 2 {
            return None;
        }
        let sender = self.controllers.get(&from)?;
        let receiver = self.controllers.get(&to)?;
        let (sender_addr, receiver_addr) = (sender.addr?, receiver.addr?);
        // The sender's link under that handle must lead to this receiver.
        let &(peer, kind) = sender.links.get(&handle)?;
        if peer != receiver_addr {
            return None;
        }
        let (&theirs, _) = receiver
            .links
            .iter()
            .find(|&(_, &link)| link == (sender_addr, kind))?;
        if theirs == handle {
            return None;
        }
        let flags = u16::from_le_bytes([packet[at], packet[at + 1]]) & 0xf000;
        let [lo, hi] = (flags | theirs).to_le_bytes();
        packet[at] = lo;
        packet[at + 1] = hi;
        self.reported.insert((from, handle, to)).then(|| {
            format!(
                "testbed ACL guard: {} -> {}: handle {handle} is {theirs} at the receiver\n",
                show(sender_addr),
                show(receiver_addr)
            )
        })
    }
}

/// An address as written, most significant byte first.
fn show(a: Addr) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        a[5], a[4], a[3], a[2], a[1], a[0]
    )
}

static TRANSLATOR: Mutex<Translator> = Mutex::new(Translator::new());

fn with_translator(f: impl FnOnce(&mut Translator)) {
    // A poisoned lock (a panic cannot happen in here, but if it did) still holds usable
    // state; an interposed libc call must never fail because of the guard.
    let mut t = TRANSLATOR.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut t);
}

/// The device number of `/dev/vhci`, looked up once.
fn vhci_rdev() -> Option<libc::dev_t> {
    static RDEV: OnceLock<Option<libc::dev_t>> = OnceLock::new();
    *RDEV.get_or_init(|| {
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: a NUL-terminated path and room for one `stat`, filled on success.
        let r = unsafe { libc::stat(c"/dev/vhci".as_ptr(), st.as_mut_ptr()) };
        // SAFETY: `stat` succeeded, so it filled the structure (zeroed before anyway).
        (r == 0).then(|| unsafe { st.assume_init() }.st_rdev)
    })
}

/// Whether `fd` is open on `/dev/vhci`.
fn is_vhci(fd: c_int) -> bool {
    let Some(rdev) = vhci_rdev() else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: room for one `stat`, filled on success.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: `fstat` succeeded, so it filled the structure.
    let st = unsafe { st.assume_init() };
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == rdev
}

/// Interposes libc's `read`: the same system call; what btvirt reads from a controller's
/// host is noted.
///
/// # Safety
/// `read`'s own contract: `buf` has room for `count` bytes.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's contract; the raw system call does not come back here.
    let n = unsafe { libc::syscall(libc::SYS_read, fd, buf, count) } as ssize_t;
    if n > 0 && is_vhci(fd) {
        // SAFETY: the kernel wrote `n` bytes to `buf`.
        let packet = unsafe { std::slice::from_raw_parts(buf as *const u8, n as usize) };
        with_translator(|t| t.on_read(fd, packet));
    }
    n
}

/// Interposes libc's `writev`: to a controller's host (`/dev/vhci`) the packet goes as one
/// buffer, after the guard has read it and, for ACL data, set the receiver's handle.
///
/// # Safety
/// `writev`'s own contract: `iov` points to `iovcnt` valid buffers.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    if iovcnt <= 0 || iov.is_null() || !is_vhci(fd) {
        // SAFETY: the caller's contract; the raw system call does not come back here.
        return unsafe { libc::syscall(libc::SYS_writev, fd, iov, iovcnt) } as ssize_t;
    }
    // SAFETY: `iov` points to `iovcnt` entries (the caller's contract).
    let parts = unsafe { std::slice::from_raw_parts(iov, iovcnt as usize) };
    let mut packet = Vec::with_capacity(parts.iter().map(|p| p.iov_len).sum());
    for p in parts {
        if p.iov_len > 0 {
            // SAFETY: each entry is a readable buffer of `iov_len` bytes.
            packet.extend_from_slice(unsafe {
                std::slice::from_raw_parts(p.iov_base as *const u8, p.iov_len)
            });
        }
    }
    let mut note = None;
    with_translator(|t| note = t.on_write(fd, &mut packet));
    if let Some(note) = note {
        // btvirt's standard error is its log.
        // SAFETY: a live buffer of its length.
        unsafe { libc::syscall(libc::SYS_write, 2, note.as_ptr(), note.len()) };
    }
    // /dev/vhci takes one packet per write; one buffer or several makes no difference.
    // SAFETY: `packet` is a live buffer of its length.
    unsafe { libc::syscall(libc::SYS_write, fd, packet.as_ptr(), packet.len()) as ssize_t }
}

/// Interposes libc's `close`: the guard forgets what it knew about `fd`.
///
/// # Safety
/// `close`'s own contract.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    with_translator(|t| t.forget(fd));
    // SAFETY: the caller's contract; the raw system call does not come back here.
    unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A0: Addr = [0, 0, 0, 0, 0xaa, 0]; // 00:AA:00:00:00:00, little-endian
    const A1: Addr = [1, 0, 1, 0, 0xaa, 0];
    const A2: Addr = [2, 0, 2, 0, 0xaa, 0];

    fn event(code: u8, params: &[u8]) -> Vec<u8> {
        let mut v = vec![H4_EVENT, code, params.len() as u8];
        v.extend_from_slice(params);
        v
    }
    fn bd_addr(a: Addr) -> Vec<u8> {
        let mut p = vec![1, 0x09, 0x10, 0];
        p.extend_from_slice(&a);
        event(EVT_CMD_COMPLETE, &p)
    }
    fn conn_complete(handle: u16, peer: Addr) -> Vec<u8> {
        let mut p = vec![0];
        p.extend_from_slice(&handle.to_le_bytes());
        p.extend_from_slice(&peer);
        p.extend_from_slice(&[LINK_ACL, 0]);
        event(EVT_CONN_COMPLETE, &p)
    }
    fn disconn_complete(handle: u16) -> Vec<u8> {
        let mut p = vec![0];
        p.extend_from_slice(&handle.to_le_bytes());
        p.push(0x13);
        event(EVT_DISCONN_COMPLETE, &p)
    }
    fn acl(handle: u16, flags: u16) -> Vec<u8> {
        let mut v = vec![H4_ACL];
        v.extend_from_slice(&(handle | flags).to_le_bytes());
        v.extend_from_slice(&[4, 0, 0, 0, 1, 0]);
        v
    }
    fn write(t: &mut Translator, fd: c_int, mut p: Vec<u8>) -> Vec<u8> {
        let _ = t.on_write(fd, &mut p);
        p
    }
    /// btvirt forwards `acl(handle)` read from `from` to `to`; what `to`'s host gets.
    fn forward(t: &mut Translator, from: c_int, to: c_int, handle: u16, flags: u16) -> Vec<u8> {
        t.on_read(from, &acl(handle, 0));
        write(t, to, acl(handle, flags))
    }

    /// The bring-up's three controllers (fds 10, 11, 12 for hci0..hci2) as the failing
    /// boot had them: hci1 ↔ hci0 on 42/42, then hci2 ↔ hci0 on 43 (hci0) / 42 (hci2).
    fn three() -> Translator {
        let mut t = Translator::new();
        for (fd, a) in [(10, A0), (11, A1), (12, A2)] {
            write(&mut t, fd, bd_addr(a));
        }
        write(&mut t, 10, conn_complete(42, A1));
        write(&mut t, 11, conn_complete(42, A0));
        write(&mut t, 10, conn_complete(43, A2));
        write(&mut t, 12, conn_complete(42, A0));
        t
    }

    #[test]
    fn packets_get_the_receivers_handle() {
        let mut t = three();
        // hci2 → hci0: under hci2's 42 hci0 would take it for hci1's; it gets 43.
        assert_eq!(forward(&mut t, 12, 10, 42, 0x2000), acl(43, 0x2000));
        // hci0 → hci2: 43 is unknown to hci2; it gets 42. The flags stay.
        assert_eq!(forward(&mut t, 10, 12, 43, 0x1000), acl(42, 0x1000));
        // Links whose ends agree pass unchanged.
        assert_eq!(forward(&mut t, 11, 10, 42, 0x2000), acl(42, 0x2000));
        assert_eq!(forward(&mut t, 10, 11, 42, 0x2000), acl(42, 0x2000));
    }

    #[test]
    fn each_translated_link_is_reported_once() {
        let mut t = three();
        t.on_read(12, &acl(42, 0));
        let note = t.on_write(10, &mut acl(42, 0x2000));
        assert_eq!(
            note.as_deref(),
            Some("testbed ACL guard: 00:AA:00:02:00:02 -> 00:AA:00:00:00:00: handle 42 is 43 at the receiver\n")
        );
        t.on_read(12, &acl(42, 0));
        assert_eq!(t.on_write(10, &mut acl(42, 0x2000)), None);
        t.on_read(11, &acl(42, 0));
        assert_eq!(t.on_write(10, &mut acl(42, 0x2000)), None);
    }

    #[test]
    fn disconnects_and_resets_are_followed() {
        let mut t = three();
        write(&mut t, 10, disconn_complete(42));
        write(&mut t, 11, disconn_complete(42));
        // hci1 ↔ hci0 again while hci2's link lives: 42 is free on both again.
        write(&mut t, 10, conn_complete(42, A1));
        write(&mut t, 11, conn_complete(42, A0));
        assert_eq!(forward(&mut t, 11, 10, 42, 0x2000), acl(42, 0x2000));
        assert_eq!(forward(&mut t, 12, 10, 42, 0x2000), acl(43, 0x2000));
        // A reset forgets hci0's links: nothing known, nothing changed.
        write(&mut t, 10, event(EVT_CMD_COMPLETE, &[1, 0x03, 0x0c, 0]));
        assert_eq!(forward(&mut t, 12, 10, 42, 0x2000), acl(42, 0x2000));
        t.forget(12);
        assert_eq!(forward(&mut t, 12, 10, 42, 0x2000), acl(42, 0x2000));
    }

    /// An LE connection event as btvirt writes it: [subevent][status][handle][role]
    /// [peer address type][peer address]...
    fn le_conn_complete(handle: u16, role: u8, peer: Addr) -> Vec<u8> {
        let mut p = vec![LE_ENHANCED_CONN_COMPLETE, 0];
        p.extend_from_slice(&handle.to_le_bytes());
        p.extend_from_slice(&[role, 0]);
        p.extend_from_slice(&peer);
        p.extend_from_slice(&[0; 18]);
        event(EVT_LE_META, &p)
    }
    fn adv_terminated(conn: u16) -> Vec<u8> {
        let mut p = vec![LE_ADV_SET_TERMINATED, 0, 1];
        p.extend_from_slice(&conn.to_le_bytes());
        p.push(0);
        event(EVT_LE_META, &p)
    }

    #[test]
    fn a_second_central_gets_the_peripherals_own_handle() {
        let mut t = Translator::new();
        for (fd, a) in [(10, A0), (11, A1), (12, A2)] {
            write(&mut t, fd, bd_addr(a));
        }
        // hci0 → hci1: 42 on both sides, left alone.
        assert_eq!(
            write(&mut t, 11, le_conn_complete(42, 1, A0)),
            le_conn_complete(42, 1, A0)
        );
        write(&mut t, 10, le_conn_complete(42, 0, A1));
        // hci2 → hci1: btvirt tells hci1 42 (hci2's); its own link on hci1 is 43.
        assert_eq!(
            write(&mut t, 11, le_conn_complete(42, 1, A2)),
            le_conn_complete(43, 1, A2)
        );
        assert_eq!(write(&mut t, 11, adv_terminated(42)), adv_terminated(43));
        // The central's own event is right as it is.
        assert_eq!(
            write(&mut t, 12, le_conn_complete(42, 0, A1)),
            le_conn_complete(42, 0, A1)
        );
        // Data both ways then reaches the right link.
        assert_eq!(forward(&mut t, 12, 11, 42, 0x2000), acl(43, 0x2000));
        assert_eq!(forward(&mut t, 11, 12, 43, 0x2000), acl(42, 0x2000));
        assert_eq!(forward(&mut t, 10, 11, 42, 0x2000), acl(42, 0x2000));
        // hci2 starts encryption on its 42: hci1 is asked for the key of its 43.
        let mut start = vec![H4_COMMAND, 0x19, 0x20, 28];
        start.extend_from_slice(&42u16.to_le_bytes());
        start.extend_from_slice(&[0; 26]);
        let ltk_request = |h: u16| {
            let mut p = vec![LE_LTK_REQUEST];
            p.extend_from_slice(&h.to_le_bytes());
            p.extend_from_slice(&[0; 10]);
            event(EVT_LE_META, &p)
        };
        t.on_read(12, &start);
        assert_eq!(write(&mut t, 11, ltk_request(42)), ltk_request(43));
        // hci0's, on the link whose ends agree, is left alone.
        start[4] = 42;
        t.on_read(10, &start);
        assert_eq!(write(&mut t, 11, ltk_request(42)), ltk_request(42));
    }

    /// A classic link and an LE link between hci0 and hci1 at once, numbered alike on
    /// both sides (42 classic, 43 LE): each packet stays on its own kind of link, and the
    /// LE key request is not moved to the classic link.
    #[test]
    fn a_classic_and_an_le_link_between_the_same_pair_stay_apart() {
        let mut t = Translator::new();
        for (fd, a) in [(10, A0), (11, A1)] {
            write(&mut t, fd, bd_addr(a));
        }
        write(&mut t, 10, conn_complete(42, A1));
        write(&mut t, 11, conn_complete(42, A0));
        write(&mut t, 10, le_conn_complete(43, 0, A1));
        write(&mut t, 11, le_conn_complete(43, 1, A0));
        assert_eq!(forward(&mut t, 10, 11, 43, 0x2000), acl(43, 0x2000));
        assert_eq!(forward(&mut t, 11, 10, 43, 0x2000), acl(43, 0x2000));
        assert_eq!(forward(&mut t, 10, 11, 42, 0x2000), acl(42, 0x2000));
        let mut start = vec![H4_COMMAND, 0x19, 0x20, 28];
        start.extend_from_slice(&43u16.to_le_bytes());
        start.extend_from_slice(&[0; 26]);
        let mut ltk_request = vec![LE_LTK_REQUEST];
        ltk_request.extend_from_slice(&43u16.to_le_bytes());
        ltk_request.extend_from_slice(&[0; 10]);
        let ltk_request = event(EVT_LE_META, &ltk_request);
        t.on_read(10, &start);
        assert_eq!(write(&mut t, 11, ltk_request.clone()), ltk_request);
        // Numbered apart (classic 42/42, LE 43 at hci0 and 44 at hci1): the LE packet
        // goes to hci1's LE link, not to the classic one.
        write(&mut t, 11, disconn_complete(43));
        write(&mut t, 11, le_conn_complete(44, 0, A0));
        assert_eq!(forward(&mut t, 10, 11, 43, 0x1000), acl(44, 0x1000));
        assert_eq!(forward(&mut t, 11, 10, 44, 0x2000), acl(43, 0x2000));
    }

    #[test]
    fn only_the_packet_just_read_is_placed() {
        let mut t = three();
        // An event read in between: the next ACL write has no known sender.
        t.on_read(12, &acl(42, 0));
        t.on_read(12, &[0x01, 0x03, 0x0c, 0]);
        assert_eq!(write(&mut t, 10, acl(42, 0x2000)), acl(42, 0x2000));
        // A handle the sender does not have towards this receiver: unchanged.
        assert_eq!(forward(&mut t, 12, 10, 44, 0x2000), acl(44, 0x2000));
        assert_eq!(forward(&mut t, 11, 12, 42, 0x2000), acl(42, 0x2000));
        // Short or foreign packets are left alone.
        assert_eq!(write(&mut t, 10, vec![H4_ACL, 42]), vec![H4_ACL, 42]);
        assert_eq!(write(&mut t, 10, vec![0xff, 0, 1, 0]), vec![0xff, 0, 1, 0]);
    }
}
