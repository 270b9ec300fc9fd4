//! `h4relay PORT`: the test bed's HCI relay, run inside a guest of the two-host mode.
//!
//! It creates one controller through `/dev/vhci` and carries its HCI traffic to and from
//! `PORT`, a virtio-serial port that qemu connects to the `btvirt -s` server on the host
//! (the shared air). vhci hands over and takes one whole packet per read and write; the
//! port is a plain byte stream, so packets going to vhci are cut out of it by their H4
//! headers.
//!
//! Anything it cannot relay ends it with one line on stderr that says what happened
//! (an unknown packet type, the host side going away, a failed write); the controller
//! then disappears with the closed vhci descriptor, so a fault is never a silent stall.

mod h4;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;

/// vhci's vendor packet type: "create a controller" (to vhci) and its answer (from it).
const VHCI_VENDOR: u8 = 0xff;
/// Create a primary (BR/EDR) controller.
const VHCI_CREATE_PRIMARY: [u8; 2] = [VHCI_VENDOR, 0x00];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port_path] = args.as_slice() else {
        eprintln!("usage: h4relay PORT   (a virtio-serial port connected to btvirt -s)");
        std::process::exit(2);
    };
    let open = |path: &str| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| fail(&format!("cannot open {path}: {e}")))
    };
    let port = open(port_path);
    let vhci = open("/dev/vhci");
    if let Err(e) = (&vhci).write_all(&VHCI_CREATE_PRIMARY) {
        fail(&format!("cannot create the controller on /dev/vhci: {e}"));
    }
    eprintln!("h4relay: relaying {port_path} <-> /dev/vhci");

    let (done, ended) = mpsc::channel::<String>();
    let (vhci_in, port_out) = (clone(&vhci), clone(&port));
    let d = done.clone();
    thread::spawn(move || {
        let _ = d.send(controller_to_air(vhci_in, port_out));
    });
    thread::spawn(move || {
        let _ = done.send(air_to_controller(port, vhci));
    });
    let why = ended
        .recv()
        .unwrap_or_else(|_| "both directions ended".into());
    fail(&why);
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
fn controller_to_air(mut vhci: File, mut port: File) -> String {
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
fn air_to_controller(mut port: File, mut vhci: File) -> String {
    let mut framer = h4::Framer::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match port.read(&mut buf) {
            Ok(0) => {
                return format!(
                    "the air (btvirt on the host) closed the port after {} packets",
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
