//! [`DataElement`]: SDP's typed values, and their wire encoding (Bluetooth Core, Vol 3,
//! Part B, 3).
//!
//! The decoder takes bytes from any peer: it checks every length against what is left
//! before it slices, never reserves memory from a length the peer sent, and bounds how
//! deep sequences nest, so hostile input gives an [`SdpError`], never a panic or a large
//! allocation.

use std::fmt;

use uuid::Uuid;

use crate::uuids::{short16, short32, uuid16, uuid32};

use super::SdpError;

/// How deep sequences and alternatives may nest. Real records use 3 or 4 levels.
pub const MAX_DEPTH: usize = 16;

/// One SDP value (Qt keeps these as `QVariant`s in `QBluetoothServiceInfo`;
/// `Sequence` and `Alternative` are its `Sequence` and `Alternative`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum DataElement {
    /// Nil (type 0).
    Nil,
    /// Unsigned 8-bit integer.
    U8(u8),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer.
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// Unsigned 128-bit integer.
    U128(u128),
    /// Signed 8-bit integer.
    I8(i8),
    /// Signed 16-bit integer.
    I16(i16),
    /// Signed 32-bit integer.
    I32(i32),
    /// Signed 64-bit integer.
    I64(i64),
    /// Signed 128-bit integer.
    I128(i128),
    /// A UUID; 16- and 32-bit forms are widened on the SIG base, and encoded short again
    /// when they fit.
    Uuid(Uuid),
    /// Text; SDP does not promise UTF-8, so the bytes are kept as sent.
    Text(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Data element sequence.
    Sequence(Vec<DataElement>),
    /// Data element alternative: one of the elements is meant.
    Alternative(Vec<DataElement>),
    /// URL, as bytes.
    Url(Vec<u8>),
}

impl fmt::Debug for DataElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataElement::Nil => f.write_str("Nil"),
            DataElement::U8(v) => write!(f, "U8({v:#04x})"),
            DataElement::U16(v) => write!(f, "U16({v:#06x})"),
            DataElement::U32(v) => write!(f, "U32({v:#010x})"),
            DataElement::U64(v) => write!(f, "U64({v:#x})"),
            DataElement::U128(v) => write!(f, "U128({v:#x})"),
            DataElement::I8(v) => write!(f, "I8({v})"),
            DataElement::I16(v) => write!(f, "I16({v})"),
            DataElement::I32(v) => write!(f, "I32({v})"),
            DataElement::I64(v) => write!(f, "I64({v})"),
            DataElement::I128(v) => write!(f, "I128({v})"),
            DataElement::Uuid(u) => write!(f, "Uuid({u})"),
            DataElement::Text(t) => write!(f, "Text({:?})", String::from_utf8_lossy(t)),
            DataElement::Bool(b) => write!(f, "Bool({b})"),
            DataElement::Sequence(s) => f.debug_tuple("Sequence").field(s).finish(),
            DataElement::Alternative(s) => f.debug_tuple("Alternative").field(s).finish(),
            DataElement::Url(t) => write!(f, "Url({:?})", String::from_utf8_lossy(t)),
        }
    }
}

impl From<&str> for DataElement {
    fn from(text: &str) -> Self {
        DataElement::Text(text.as_bytes().to_vec())
    }
}

impl From<Uuid> for DataElement {
    fn from(uuid: Uuid) -> Self {
        DataElement::Uuid(uuid)
    }
}

impl DataElement {
    /// The text as a string, if this is `Text` holding UTF-8 (trailing NULs, which some
    /// stacks send, are dropped).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            DataElement::Text(t) => {
                let end = t.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                std::str::from_utf8(&t[..end]).ok()
            }
            _ => None,
        }
    }

    /// The UUID, if this is one.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            DataElement::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    /// An unsigned integer of up to 32 bits, widened.
    pub fn as_u32(&self) -> Option<u32> {
        match *self {
            DataElement::U8(v) => Some(v.into()),
            DataElement::U16(v) => Some(v.into()),
            DataElement::U32(v) => Some(v),
            _ => None,
        }
    }

    /// The elements, if this is a sequence or an alternative.
    pub fn as_sequence(&self) -> Option<&[DataElement]> {
        match self {
            DataElement::Sequence(s) | DataElement::Alternative(s) => Some(s),
            _ => None,
        }
    }

    /// Whether `uuid` appears anywhere in this element (what an SDP search pattern
    /// matches).
    pub fn contains_uuid(&self, uuid: Uuid) -> bool {
        match self {
            DataElement::Uuid(u) => *u == uuid,
            DataElement::Sequence(s) | DataElement::Alternative(s) => {
                s.iter().any(|e| e.contains_uuid(uuid))
            }
            _ => false,
        }
    }

    /// Decodes one element from the start of `input`; returns it and the bytes used.
    ///
    /// # Errors
    /// [`SdpError::Malformed`] for truncated input, a size the type does not allow, an
    /// unknown type, or nesting deeper than [`MAX_DEPTH`].
    pub fn decode(input: &[u8]) -> Result<(DataElement, usize), SdpError> {
        decode_at(input, 0)
    }

    /// Appends this element's encoding to `out`.
    ///
    /// # Errors
    /// [`SdpError::TooLarge`] if a text or sequence exceeds what a 32-bit length holds.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), SdpError> {
        match self {
            DataElement::Nil => out.push(0),
            DataElement::U8(v) => fixed(out, 1, &v.to_be_bytes()),
            DataElement::U16(v) => fixed(out, 1, &v.to_be_bytes()),
            DataElement::U32(v) => fixed(out, 1, &v.to_be_bytes()),
            DataElement::U64(v) => fixed(out, 1, &v.to_be_bytes()),
            DataElement::U128(v) => fixed(out, 1, &v.to_be_bytes()),
            DataElement::I8(v) => fixed(out, 2, &v.to_be_bytes()),
            DataElement::I16(v) => fixed(out, 2, &v.to_be_bytes()),
            DataElement::I32(v) => fixed(out, 2, &v.to_be_bytes()),
            DataElement::I64(v) => fixed(out, 2, &v.to_be_bytes()),
            DataElement::I128(v) => fixed(out, 2, &v.to_be_bytes()),
            DataElement::Uuid(u) => match (short16(*u), short32(*u)) {
                (Some(s), _) => fixed(out, 3, &s.to_be_bytes()),
                (None, Some(s)) => fixed(out, 3, &s.to_be_bytes()),
                _ => fixed(out, 3, u.as_bytes()),
            },
            DataElement::Text(t) => variable(out, 4, t)?,
            DataElement::Bool(b) => out.extend_from_slice(&[5 << 3, u8::from(*b)]),
            DataElement::Sequence(s) => sequence(out, 6, s)?,
            DataElement::Alternative(s) => sequence(out, 7, s)?,
            DataElement::Url(t) => variable(out, 8, t)?,
        }
        Ok(())
    }

    /// This element's encoding.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SdpError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A fixed-size element: the size index follows from the length (1, 2, 4, 8, 16 bytes).
fn fixed(out: &mut Vec<u8>, ty: u8, bytes: &[u8]) {
    let index = bytes.len().trailing_zeros() as u8;
    out.push(ty << 3 | index);
    out.extend_from_slice(bytes);
}

/// A variable-size element with the smallest length field that holds `len`.
fn header(out: &mut Vec<u8>, ty: u8, len: usize) -> Result<(), SdpError> {
    if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[ty << 3 | 5, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(ty << 3 | 6);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        let l = u32::try_from(len).map_err(|_| SdpError::TooLarge)?;
        out.push(ty << 3 | 7);
        out.extend_from_slice(&l.to_be_bytes());
    }
    Ok(())
}

fn variable(out: &mut Vec<u8>, ty: u8, bytes: &[u8]) -> Result<(), SdpError> {
    header(out, ty, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn sequence(out: &mut Vec<u8>, ty: u8, items: &[DataElement]) -> Result<(), SdpError> {
    let mut body = Vec::new();
    for item in items {
        item.encode(&mut body)?;
    }
    variable(out, ty, &body)
}

fn malformed(what: &'static str) -> SdpError {
    SdpError::Malformed(what)
}

fn take(input: &[u8], at: usize, n: usize) -> Result<&[u8], SdpError> {
    input
        .get(at..)
        .and_then(|rest| rest.get(..n))
        .ok_or(malformed("element runs past the end of its data"))
}

fn decode_at(input: &[u8], depth: usize) -> Result<(DataElement, usize), SdpError> {
    let &first = input.first().ok_or(malformed("empty data element"))?;
    let ty = first >> 3;
    let index = first & 7;
    // Size: fixed (index 0–4) or a length field of 1, 2 or 4 bytes (index 5–7).
    let (len, start) = match index {
        0..=4 => (1usize << index, 1),
        5 => (usize::from(take(input, 1, 1)?[0]), 2),
        6 => {
            let b = take(input, 1, 2)?;
            (usize::from(u16::from_be_bytes([b[0], b[1]])), 3)
        }
        _ => {
            let b = take(input, 1, 4)?;
            let l = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            (
                usize::try_from(l).map_err(|_| malformed("length too large"))?,
                5,
            )
        }
    };
    let fixed_size = index <= 4;
    if ty == 0 {
        // Nil has no data and only size index 0.
        return if index == 0 {
            Ok((DataElement::Nil, 1))
        } else {
            Err(malformed("nil with a size"))
        };
    }
    let body = take(input, start, len)?;
    let used = start + len;
    let element = match (ty, fixed_size) {
        (1, true) => unsigned(body),
        (2, true) => signed(body),
        (3, true) => match body.len() {
            2 => DataElement::Uuid(uuid16(u16::from_be_bytes([body[0], body[1]]))),
            4 => DataElement::Uuid(uuid32(u32::from_be_bytes([
                body[0], body[1], body[2], body[3],
            ]))),
            16 => DataElement::Uuid(Uuid::from_slice(body).map_err(|_| malformed("uuid"))?),
            _ => return Err(malformed("uuid of a size other than 2, 4 or 16 bytes")),
        },
        (4, false) => DataElement::Text(body.to_vec()),
        (5, true) if index == 0 => DataElement::Bool(body[0] != 0),
        (6 | 7, false) => {
            if depth >= MAX_DEPTH {
                return Err(malformed("sequences nested too deeply"));
            }
            let mut items = Vec::new();
            let mut at = 0;
            while at < body.len() {
                let (item, n) = decode_at(&body[at..], depth + 1)?;
                items.push(item);
                at += n;
            }
            if ty == 6 {
                DataElement::Sequence(items)
            } else {
                DataElement::Alternative(items)
            }
        }
        (8, false) => DataElement::Url(body.to_vec()),
        (1..=8, _) => return Err(malformed("size not allowed for the element's type")),
        _ => return Err(malformed("unknown data element type")),
    };
    Ok((element, used))
}

fn unsigned(b: &[u8]) -> DataElement {
    match b.len() {
        1 => DataElement::U8(b[0]),
        2 => DataElement::U16(u16::from_be_bytes([b[0], b[1]])),
        4 => DataElement::U32(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        8 => DataElement::U64(u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
        _ => DataElement::U128(u128::from_be_bytes(b.try_into().unwrap_or([0; 16]))),
    }
}

fn signed(b: &[u8]) -> DataElement {
    match b.len() {
        1 => DataElement::I8(b[0] as i8),
        2 => DataElement::I16(i16::from_be_bytes([b[0], b[1]])),
        4 => DataElement::I32(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        8 => DataElement::I64(i64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
        _ => DataElement::I128(i128::from_be_bytes(b.try_into().unwrap_or([0; 16]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_a_protocol_descriptor_list() {
        // ((L2CAP), (RFCOMM, channel 5)), as bluetoothd sends it.
        let bytes = [
            0x35, 0x0c, 0x35, 0x03, 0x19, 0x01, 0x00, 0x35, 0x05, 0x19, 0x00, 0x03, 0x08, 0x05,
        ];
        let (e, n) = DataElement::decode(&bytes).unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(
            e,
            DataElement::Sequence(vec![
                DataElement::Sequence(vec![uuid16(0x0100).into()]),
                DataElement::Sequence(vec![uuid16(0x0003).into(), DataElement::U8(5)]),
            ])
        );
        assert_eq!(e.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn text_and_long_forms() {
        let (e, n) = DataElement::decode(&[0x25, 0x03, b'a', b'b', 0]).unwrap();
        assert_eq!(n, 5);
        assert_eq!(e.as_str(), Some("ab"));
        // A 16-bit length form is accepted though 8 bits would do.
        let (e, n) = DataElement::decode(&[0x26, 0x00, 0x01, b'x']).unwrap();
        assert_eq!((e.as_str(), n), (Some("x"), 4));
        let (e, _) = DataElement::decode(&[0x37, 0, 0, 0, 2, 0x28, 0x01]).unwrap();
        assert_eq!(e, DataElement::Sequence(vec![DataElement::Bool(true)]));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &[][..],
            &[0x01],                         // nil with a size
            &[0x09, 0x01],                   // u16 cut short
            &[0x1a, 0, 0, 0],                // uuid of size index 2 (4 bytes), cut short
            &[0x18, 0x00],                   // uuid of 1 byte
            &[0x35, 0x05, 0x08],             // sequence longer than the input
            &[0x20, b'a'],                   // text with a fixed size
            &[0x2f, 0xff, 0xff, 0xff],       // unknown size index for text: 32-bit length cut
            &[0x48, 0],                      // type 9
            &[0x29, 0, 0],                   // bool of 2 bytes
            &[0x37, 0xff, 0xff, 0xff, 0xff], // a 4 GiB sequence announced in 5 bytes
        ] {
            assert!(DataElement::decode(bad).is_err(), "{bad:02x?} was accepted");
        }
        let mut nested = vec![0x08, 0x01];
        for _ in 0..=MAX_DEPTH {
            let mut outer = vec![0x35, nested.len() as u8];
            outer.extend_from_slice(&nested);
            nested = outer;
        }
        assert_eq!(
            DataElement::decode(&nested),
            Err(SdpError::Malformed("sequences nested too deeply"))
        );
    }

    fn element() -> impl Strategy<Value = DataElement> {
        let leaf = prop_oneof![
            Just(DataElement::Nil),
            any::<u8>().prop_map(DataElement::U8),
            any::<u16>().prop_map(DataElement::U16),
            any::<u32>().prop_map(DataElement::U32),
            any::<u64>().prop_map(DataElement::U64),
            any::<u128>().prop_map(DataElement::U128),
            any::<i8>().prop_map(DataElement::I8),
            any::<i32>().prop_map(DataElement::I32),
            any::<i128>().prop_map(DataElement::I128),
            any::<u128>().prop_map(|v| DataElement::Uuid(Uuid::from_u128(v))),
            any::<u16>().prop_map(|v| DataElement::Uuid(uuid16(v))),
            any::<bool>().prop_map(DataElement::Bool),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(DataElement::Text),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(DataElement::Url),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(DataElement::Sequence),
                proptest::collection::vec(inner, 0..8).prop_map(DataElement::Alternative),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn encode_then_decode_gives_the_element(e in element()) {
            let bytes = e.to_bytes().unwrap();
            let (back, n) = DataElement::decode(&bytes).unwrap();
            prop_assert_eq!(n, bytes.len());
            prop_assert_eq!(back, e);
        }

        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok((e, n)) = DataElement::decode(&bytes) {
                prop_assert!(n <= bytes.len());
                // Decoding never makes more than it was given: the element re-encodes
                // (shortest length fields, short UUIDs) in at most the bytes it used.
                let again = e.to_bytes().unwrap();
                prop_assert!(again.len() <= n, "{} bytes from {}", again.len(), n);
            }
        }

        #[test]
        fn mutated_records_never_panic(
            e in element(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = e.to_bytes().unwrap();
            for (at, value) in flips {
                let i = at % bytes.len();
                bytes[i] ^= value;
            }
            if let Ok((_, n)) = DataElement::decode(&bytes) {
                prop_assert!(n <= bytes.len());
            }
        }
    }
}
