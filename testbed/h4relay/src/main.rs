//! `h4relay PORT [VHCI]`: the test bed's HCI relay, run inside a guest of the two-host mode.
//!
//! It creates one controller through `/dev/vhci` and carries its HCI traffic to and from
//! `PORT`, the shared air: a virtio-serial port that qemu connects to the air's `btvirt -s`
//! (in the first guest, or on the host), or, in the guest that runs the air, btvirt's
//! own server socket. vhci hands over and takes one whole packet per read and write; the
//! air is a plain byte stream, so packets going to vhci are cut out of it by their H4
//! headers.
//!
//! `h4relay --pump PORT SOCKET`, in the guest that runs the air: carries bytes both ways
//! between `PORT` (a virtio-serial port whose other end is another guest's relay) and a
//! new connection to `SOCKET` (btvirt's server socket), so that guest's controller
//! joins this guest's air. Bytes go through untouched; btvirt and the far relay frame them.
//!
//! Anything it cannot relay ends it with one line on stderr that says what happened
//! (an unknown packet type, the host side going away, a failed write); the controller
//! then disappears with the closed vhci descriptor, so a fault is never a silent stall.

mod h4;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

/// vhci's vendor packet type: "create a controller" (to vhci) and its answer (from it).
const VHCI_VENDOR: u8 = 0xff;
/// Create a primary (BR/EDR) controller.
const VHCI_CREATE_PRIMARY: [u8; 2] = [VHCI_VENDOR, 0x00];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port_path, vhci_path) = match args.as_slice() {
        [pump, port, socket] if pump == "--pump" => pump_bytes(port, socket),
        [port] => (port.as_str(), "/dev/vhci"),
        // The second path stands in for /dev/vhci in the relay's own tests.
        [port, vhci] => (port.as_str(), vhci.as_str()),
        _ => {
            eprintln!(
                "usage: h4relay PORT [VHCI] | h4relay --pump PORT SOCKET   (PORT: a virtio-serial \
                 port or btvirt -s's socket; SOCKET: btvirt -s's socket)"
            );
            std::process::exit(2);
        }
    };
    let (air_in, air_out) = open_air(port_path);
    let vhci = open(vhci_path);
    if let Err(e) = (&vhci).write_all(&VHCI_CREATE_PRIMARY) {
        fail(&format!("cannot create the controller on {vhci_path}: {e}"));
    }
    eprintln!("h4relay: relaying {port_path} <-> {vhci_path}");

    let (done, ended) = mpsc::channel::<String>();
    let vhci_in = clone(&vhci);
    let d = done.clone();
    thread::spawn(move || {
        let _ = d.send(controller_to_air(vhci_in, air_out));
    });
    thread::spawn(move || {
        let _ = done.send(air_to_controller(air_in, vhci));
    });
    let why = ended
        .recv()
        .unwrap_or_else(|_| "both directions ended".into());
    fail(&why);
}

fn open(path: &str) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| fail(&format!("cannot open {path}: {e}")))
}

type Reader = Box<dyn Read + Send>;
type Writer = Box<dyn Write + Send>;

/// The air's two directions: a connection when `path` is a socket (btvirt's own, in the
/// guest that runs it), else the opened file (a virtio-serial port).
fn open_air(path: &str) -> (Reader, Writer) {
    let is_socket = std::fs::metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or_else(|e| fail(&format!("cannot open {path}: {e}")));
    if is_socket {
        let s = UnixStream::connect(path)
            .unwrap_or_else(|e| fail(&format!("cannot connect to {path}: {e}")));
        let w = s
            .try_clone()
            .unwrap_or_else(|e| fail(&format!("cannot duplicate a descriptor: {e}")));
        (Box::new(s), Box::new(w))
    } else {
        let f = open(path);
        let w = clone(&f);
        (Box::new(f), Box::new(w))
    }
}

/// `--pump PORT SOCKET`: bytes both ways until one side ends; never returns.
fn pump_bytes(port_path: &str, socket: &str) -> ! {
    let port = open(port_path);
    let (air_in, air_out) = open_air(socket);
    eprintln!("h4relay: pumping {port_path} <-> {socket}");
    let (done, ended) = mpsc::channel::<String>();
    let port_in = clone(&port);
    let d = done.clone();
    thread::spawn(move || {
        let _ = d.send(copy_all(port_in, air_out, "the guest's port", "the air"));
    });
    thread::spawn(move || {
        let _ = done.send(copy_all(air_in, port, "the air", "the guest's port"));
    });
    let why = ended
        .recv()
        .unwrap_or_else(|_| "both directions ended".into());
    fail(&why);
}

/// Copies `from` to `to` until either fails or `from` ends; says which and after how much.
fn copy_all(mut from: impl Read, mut to: impl Write, from_name: &str, to_name: &str) -> String {
    let mut buf = vec![0u8; 65536];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return format!("{from_name} reached its end after {total} bytes"),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return format!("reading {from_name}: {e}"),
        };
        if let Err(e) = to.write_all(&buf[..n]) {
            return format!("writing to {to_name}: {e}");
        }
        total += n as u64;
    }
}

fn clone(f: &File) -> File {
    f.try_clone()
        .unwrap_or_else(|e| fail(&format!("cannot duplicate a descriptor: {e}")))
}

fn fail(why: &str) -> ! {
    eprintln!("h4relay: {why}; stopping (the controller goes away with /dev/vhci)");
    std::process::exit(1);
}

/// vhci → port: each read is one packet; it is checked against its own header so that
/// the stream the air sees never goes out of step.
fn controller_to_air(mut vhci: impl Read, mut port: impl Write) -> String {
    let mut buf = vec![0u8; 4 + 65535];
    let mut packets = 0u64;
    loop {
        let n = match vhci.read(&mut buf) {
            Ok(0) => return format!("/dev/vhci reached its end after {packets} packets"),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return format!("reading /dev/vhci: {e}"),
        };
        let packet = &buf[..n];
        if packet[0] == VHCI_VENDOR {
            // The answer to "create a controller": the new index. Not for the air.
            continue;
        }
        match h4::packet_len(packet) {
            Ok(Some(len)) if len == n => {}
            Ok(len) => {
                return format!(
                "/dev/vhci gave a packet of {n} bytes (type 0x{:02x}) whose header says {len:?}",
                packet[0]
            )
            }
            Err(kind) => {
                return format!(
                    "/dev/vhci gave unknown H4 packet type 0x{kind:02x} after {packets} packets"
                )
            }
        }
        if let Err(e) = port.write_all(packet) {
            return format!("writing to the air (port): {e}");
        }
        packets += 1;
    }
}

/// port → vhci: the stream is cut into whole packets, one write each.
fn air_to_controller(mut port: impl Read, mut vhci: impl Write) -> String {
    let mut framer = h4::Framer::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match port.read(&mut buf) {
            Ok(0) => {
                return format!(
                    "the air (btvirt) closed the port after {} packets",
                    framer.packets()
                )
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return format!("reading the port: {e}"),
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_packet() {
                Ok(Some(packet)) => match vhci.write(&packet) {
                    Ok(w) if w == packet.len() => {}
                    Ok(w) => {
                        return format!("/dev/vhci took {w} of a {}-byte packet", packet.len())
                    }
                    Err(e) => return format!("writing /dev/vhci: {e}"),
                },
                Ok(None) => break,
                Err(bad) => return format!("from the air: {bad}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Hands out one chunk per read, as /dev/vhci does with packets; then end of file.
    struct Chunks(VecDeque<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some(c) = self.0.pop_front() else {
                return Ok(0);
            };
            buf[..c.len()].copy_from_slice(&c);
            Ok(c.len())
        }
    }

    /// Records each write separately, as /dev/vhci takes one packet per write.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for &mut Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const RESET_COMPLETE: [u8; 7] = [0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00];
    const ACL: [u8; 7] = [0x02, 0x2a, 0x20, 0x02, 0x00, 0xaa, 0xbb];

    #[test]
    fn the_air_stream_is_cut_into_packets_and_a_bad_type_ends_the_relay() {
        // Two packets split across reads, then a byte that starts no packet.
        let stream = [&RESET_COMPLETE[..], &ACL[..], &[0x7f, 0x00]].concat();
        let port = Chunks(VecDeque::from([
            stream[..3].to_vec(),
            stream[3..10].to_vec(),
            stream[10..].to_vec(),
        ]));
        let mut vhci = Writes::default();
        let why = air_to_controller(port, &mut vhci);
        assert_eq!(vhci.0, vec![RESET_COMPLETE.to_vec(), ACL.to_vec()]);
        assert!(why.contains("unknown H4 packet type 0x7f"), "{why}");
        assert!(why.contains("after 2 good packets"), "{why}");
    }

    #[test]
    fn the_air_going_away_ends_the_relay_with_a_reason() {
        let mut vhci = Writes::default();
        let why = air_to_controller(Chunks(VecDeque::new()), &mut vhci);
        assert!(why.contains("closed the port"), "{why}");
        assert!(vhci.0.is_empty());
    }

    #[test]
    fn controller_packets_go_to_the_air_and_vendor_answers_do_not() {
        let vhci = Chunks(VecDeque::from([
            vec![0xff, 0x00, 0x00, 0x00],
            vec![0x01, 0x03, 0x0c, 0x00],
            ACL.to_vec(),
        ]));
        let mut port = Writes::default();
        let why = controller_to_air(vhci, &mut port);
        assert_eq!(port.0, vec![vec![0x01, 0x03, 0x0c, 0x00], ACL.to_vec()]);
        assert!(why.contains("end after 2 packets"), "{why}");
    }

    #[test]
    fn a_controller_packet_that_disagrees_with_its_header_ends_the_relay() {
        // The header says 2 payload bytes; 1 is there.
        let vhci = Chunks(VecDeque::from([vec![0x02, 0x2a, 0x20, 0x02, 0x00, 0xaa]]));
        let mut port = Writes::default();
        let why = controller_to_air(vhci, &mut port);
        assert!(why.contains("whose header says"), "{why}");
        assert!(port.0.is_empty(), "nothing out of step reaches the air");
    }
}
