//! H4 framing: the packet-type byte and header that tell where one HCI packet ends in
//! a byte stream (the UART transport of the Bluetooth Core spec, Vol 4 Part A).

use std::fmt;

/// A byte that starts no HCI packet this relay knows: the stream is out of step, or the
/// other side speaks something else. Either way nothing after it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPacketType {
    /// The offending byte.
    pub byte: u8,
    /// Its offset in the stream since the relay started.
    pub offset: u64,
    /// Whole packets framed before it.
    pub packets: u64,
}

impl fmt::Display for BadPacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown H4 packet type 0x{:02x} at stream offset {} (after {} good packets)",
            self.byte, self.offset, self.packets
        )
    }
}

/// Reads the payload length out of a header (the bytes after the type byte).
type PayloadLen = fn(&[u8]) -> usize;

/// Length of the header after the type byte, and where the payload length sits in it.
fn header(kind: u8) -> Option<(usize, PayloadLen)> {
    Some(match kind {
        // command: opcode (2), parameter length (1)
        0x01 => (3, |h| usize::from(h[2])),
        // ACL data: handle and flags (2), data length (2)
        0x02 => (4, |h| usize::from(u16::from_le_bytes([h[2], h[3]]))),
        // SCO data: handle and flags (2), data length (1)
        0x03 => (3, |h| usize::from(h[2])),
        // event: code (1), parameter length (1)
        0x04 => (2, |h| usize::from(h[1])),
        // ISO data: handle and flags (2), length (14 bits)
        0x05 => (4, |h| {
            usize::from(u16::from_le_bytes([h[2], h[3]]) & 0x3fff)
        }),
        _ => return None,
    })
}

/// The length of the whole packet (type byte included) at the start of `buf`, once its
/// header is there; `Ok(None)` while more bytes are needed.
pub fn packet_len(buf: &[u8]) -> Result<Option<usize>, u8> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let (hlen, payload) = header(kind).ok_or(kind)?;
    if buf.len() < 1 + hlen {
        return Ok(None);
    }
    Ok(Some(1 + hlen + payload(&buf[1..1 + hlen])))
}

/// Cuts a byte stream into whole H4 packets.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    offset: u64,
    packets: u64,
}

impl Framer {
    /// Adds bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole packet, if one is there. After an error the framer stays broken.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, BadPacketType> {
        match packet_len(&self.buf) {
            Ok(Some(n)) if self.buf.len() >= n => {
                let rest = self.buf.split_off(n);
                let packet = std::mem::replace(&mut self.buf, rest);
                self.offset += n as u64;
                self.packets += 1;
                Ok(Some(packet))
            }
            Ok(_) => Ok(None),
            Err(byte) => Err(BadPacketType {
                byte,
                offset: self.offset,
                packets: self.packets,
            }),
        }
    }

    /// Whole packets framed so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut Framer) -> Result<Vec<Vec<u8>>, BadPacketType> {
        let mut out = Vec::new();
        while let Some(p) = f.next_packet()? {
            out.push(p);
        }
        Ok(out)
    }

    #[test]
    fn frames_each_type_and_keeps_partial_packets() {
        let event = [0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00];
        let acl = [0x02, 0x2a, 0x20, 0x03, 0x00, 0xaa, 0xbb, 0xcc];
        let cmd = [0x01, 0x03, 0x0c, 0x00];
        let iso = [0x05, 0x01, 0x00, 0x02, 0xc0, 0x11, 0x22];
        let stream: Vec<u8> = [&event[..], &acl, &cmd, &iso].concat();
        // Fed one byte at a time: no packet comes out before it is whole.
        let mut f = Framer::default();
        let mut got = Vec::new();
        for b in &stream {
            f.push(&[*b]);
            got.extend(all(&mut f).unwrap());
        }
        assert_eq!(
            got,
            vec![event.to_vec(), acl.to_vec(), cmd.to_vec(), iso.to_vec()]
        );
        assert_eq!(f.packets(), 4);
    }

    #[test]
    fn unknown_type_is_an_error_with_its_place() {
        let mut f = Framer::default();
        f.push(&[0x01, 0x03, 0x0c, 0x00, 0x7f, 0x00]);
        assert_eq!(
            f.next_packet().unwrap().unwrap(),
            vec![0x01, 0x03, 0x0c, 0x00]
        );
        let err = f.next_packet().unwrap_err();
        assert_eq!(
            err,
            BadPacketType {
                byte: 0x7f,
                offset: 4,
                packets: 1
            }
        );
        assert!(err.to_string().contains("0x7f"));
        // It stays broken.
        assert!(f.next_packet().is_err());
    }

    #[test]
    fn empty_and_short_input_wait() {
        let mut f = Framer::default();
        assert_eq!(f.next_packet(), Ok(None));
        f.push(&[0x02, 0x01, 0x00, 0xff]);
        assert_eq!(f.next_packet(), Ok(None));
        f.push(&[0xff]);
        assert_eq!(
            f.next_packet(),
            Ok(None),
            "65535 payload bytes still to come"
        );
    }
}
