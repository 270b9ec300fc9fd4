//! SDP PDUs for a client: the ServiceSearchAttribute request, its response with the
//! continuation state, and the attribute lists the response carries (Bluetooth Core,
//! Vol 3, Part B, 4).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{DataElement, SdpError};

/// PDU IDs.
const ERROR_RESPONSE: u8 = 0x01;
const SERVICE_SEARCH_ATTRIBUTE_REQUEST: u8 = 0x06;
const SERVICE_SEARCH_ATTRIBUTE_RESPONSE: u8 = 0x07;

/// A search pattern holds at most 12 UUIDs.
pub const MAX_PATTERN: usize = 12;
/// A continuation state is at most 16 bytes.
const MAX_CONTINUATION: usize = 16;

/// One record's attributes, by ID.
pub type Attributes = BTreeMap<u16, DataElement>;

/// A ServiceSearchAttributeRequest for records matching every UUID of `pattern`, asking
/// for all attributes, at most `max_bytes` per response, resuming at `continuation`.
///
/// # Errors
/// [`SdpError::BadRequest`] for an empty pattern or one of more than 12 UUIDs, or a
/// continuation state of more than 16 bytes.
pub fn search_attribute_request(
    transaction: u16,
    pattern: &[Uuid],
    max_bytes: u16,
    continuation: &[u8],
) -> Result<Vec<u8>, SdpError> {
    if pattern.is_empty() || pattern.len() > MAX_PATTERN {
        return Err(SdpError::BadRequest("a search pattern holds 1 to 12 UUIDs"));
    }
    if continuation.len() > MAX_CONTINUATION {
        return Err(SdpError::BadRequest("continuation state over 16 bytes"));
    }
    let mut params = Vec::new();
    DataElement::Sequence(pattern.iter().map(|u| DataElement::Uuid(*u)).collect())
        .encode(&mut params)?;
    params.extend_from_slice(&max_bytes.to_be_bytes());
    // Every attribute: the range 0x0000–0xFFFF.
    DataElement::Sequence(vec![DataElement::U32(0x0000_ffff)]).encode(&mut params)?;
    params.push(continuation.len() as u8);
    params.extend_from_slice(continuation);
    let mut pdu = vec![SERVICE_SEARCH_ATTRIBUTE_REQUEST];
    pdu.extend_from_slice(&transaction.to_be_bytes());
    pdu.extend_from_slice(&(params.len() as u16).to_be_bytes());
    pdu.extend_from_slice(&params);
    Ok(pdu)
}

/// One ServiceSearchAttributeResponse: a piece of the attribute lists and the state to
/// continue from (empty when this is the last piece).
#[derive(Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// Bytes of the attribute lists.
    pub bytes: &'a [u8],
    /// The continuation state; empty when complete.
    pub continuation: &'a [u8],
}

/// Parses the response to the request with ID `transaction`.
///
/// # Errors
/// [`SdpError::ErrorResponse`] with the server's code; [`SdpError::Malformed`] for a PDU
/// that is cut short, too long, of another transaction or of an unexpected kind.
pub fn parse_search_attribute_response(
    transaction: u16,
    pdu: &[u8],
) -> Result<Piece<'_>, SdpError> {
    if pdu.len() < 5 {
        return Err(SdpError::Malformed("PDU shorter than its header"));
    }
    let id = pdu[0];
    let tid = u16::from_be_bytes([pdu[1], pdu[2]]);
    let plen = usize::from(u16::from_be_bytes([pdu[3], pdu[4]]));
    let params = &pdu[5..];
    if params.len() != plen {
        return Err(SdpError::Malformed(
            "parameter length does not match the PDU",
        ));
    }
    if tid != transaction {
        return Err(SdpError::Malformed("response to another transaction"));
    }
    match id {
        ERROR_RESPONSE if plen >= 2 => Err(SdpError::ErrorResponse(u16::from_be_bytes([
            params[0], params[1],
        ]))),
        SERVICE_SEARCH_ATTRIBUTE_RESPONSE if plen >= 3 => {
            let count = usize::from(u16::from_be_bytes([params[0], params[1]]));
            let rest = &params[2..];
            if rest.len() < count + 1 {
                return Err(SdpError::Malformed("attribute byte count past the PDU"));
            }
            let bytes = &rest[..count];
            let clen = usize::from(rest[count]);
            let continuation = &rest[count + 1..];
            if clen > MAX_CONTINUATION || continuation.len() != clen {
                return Err(SdpError::Malformed("bad continuation state"));
            }
            Ok(Piece {
                bytes,
                continuation,
            })
        }
        _ => Err(SdpError::Malformed("unexpected PDU")),
    }
}

/// Parses the joined attribute lists of a ServiceSearchAttribute transaction: a
/// sequence of records, each a sequence of attribute ID (u16) and value pairs.
///
/// # Errors
/// [`SdpError::Malformed`] if the bytes are not such a sequence, an ID is not a u16, a
/// record has an ID without a value, or bytes follow the sequence.
pub fn parse_attribute_lists(bytes: &[u8]) -> Result<Vec<Attributes>, SdpError> {
    let (lists, used) = DataElement::decode(bytes)?;
    if used != bytes.len() {
        return Err(SdpError::Malformed("bytes after the attribute lists"));
    }
    let DataElement::Sequence(records) = lists else {
        return Err(SdpError::Malformed("attribute lists are not a sequence"));
    };
    records.into_iter().map(parse_record).collect()
}

fn parse_record(record: DataElement) -> Result<Attributes, SdpError> {
    let DataElement::Sequence(items) = record else {
        return Err(SdpError::Malformed("an attribute list is not a sequence"));
    };
    if items.len() % 2 != 0 {
        return Err(SdpError::Malformed("an attribute ID without a value"));
    }
    let mut attributes = Attributes::new();
    let mut items = items.into_iter();
    while let (Some(id), Some(value)) = (items.next(), items.next()) {
        let DataElement::U16(id) = id else {
            return Err(SdpError::Malformed("an attribute ID is not a u16"));
        };
        attributes.insert(id, value);
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uuids::uuid16;
    use proptest::prelude::*;

    #[test]
    fn request_bytes() {
        let pdu = search_attribute_request(7, &[uuid16(0x1101)], 0xffff, &[]).unwrap();
        assert_eq!(
            pdu,
            [
                0x06, 0x00, 0x07, 0x00, 0x0f, // header: 15 bytes of parameters
                0x35, 0x03, 0x19, 0x11, 0x01, // pattern (SerialPort)
                0xff, 0xff, // max bytes
                0x35, 0x05, 0x0a, 0x00, 0x00, 0xff, 0xff, // all attributes
                0x00, // no continuation
            ]
        );
        assert!(search_attribute_request(1, &[], 100, &[]).is_err());
        assert!(search_attribute_request(1, &[uuid16(1); 13], 100, &[]).is_err());
        assert!(search_attribute_request(1, &[uuid16(1)], 100, &[0; 17]).is_err());
    }

    #[test]
    fn responses() {
        let pdu = [0x07, 0, 7, 0, 6, 0, 2, 0x35, 0x00, 1, 0xaa];
        assert_eq!(
            parse_search_attribute_response(7, &pdu).unwrap(),
            Piece {
                bytes: &[0x35, 0x00],
                continuation: &[0xaa]
            }
        );
        assert!(parse_search_attribute_response(8, &pdu).is_err());
        assert_eq!(
            parse_search_attribute_response(7, &[0x01, 0, 7, 0, 2, 0, 3]),
            Err(SdpError::ErrorResponse(3))
        );
        // Byte count past the end, continuation length wrong, parameter length wrong.
        assert!(parse_search_attribute_response(7, &[0x07, 0, 7, 0, 3, 0, 9, 0]).is_err());
        assert!(parse_search_attribute_response(7, &[0x07, 0, 7, 0, 3, 0, 0, 2]).is_err());
        assert!(parse_search_attribute_response(7, &[0x07, 0, 7, 0, 9, 0, 0, 0]).is_err());
    }

    #[test]
    fn attribute_lists() {
        // One record: 0x0000 = handle 0x10000, 0x0100 = "x".
        let bytes = [
            0x35, 0x0d, 0x35, 0x0b, 0x09, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x09, 0x01,
            0x00,
        ];
        // Cut: the name's value is missing, so the record has an ID without a value.
        assert!(parse_attribute_lists(&bytes).is_err());
        let mut whole = bytes.to_vec();
        whole[1] += 3;
        whole[3] += 3;
        whole.extend_from_slice(&[0x25, 0x01, b'x']);
        let records = parse_attribute_lists(&whole).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0][&0], DataElement::U32(0x10000));
        assert_eq!(records[0][&0x100].as_str(), Some("x"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn hostile_responses_never_panic(
            pdu in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            if let Ok(piece) = parse_search_attribute_response(
                u16::from_be_bytes([pdu.get(1).copied().unwrap_or(0), pdu.get(2).copied().unwrap_or(0)]),
                &pdu,
            ) {
                prop_assert!(piece.continuation.len() <= MAX_CONTINUATION);
                prop_assert!(piece.bytes.len() + piece.continuation.len() < pdu.len());
            }
            if let Ok(records) = parse_attribute_lists(&pdu) {
                prop_assert!(records.len() <= pdu.len() / 2);
            }
        }
    }
}
