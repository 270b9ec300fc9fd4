//! SDP, the Service Discovery Protocol: data elements, the client's PDUs, a client on the
//! event loop, and the XML form BlueZ takes records in.
//!
//! The client asks the peer's SDP server itself over L2CAP PSM 1, so it needs neither
//! bluetoothd nor the peer to be known to bluetoothd first; Qt shells out to its
//! `sdpscanner` helper for the same.

mod element;
mod pdu;
mod search;
mod xml;

use std::error::Error;
use std::fmt;

pub use element::{DataElement, MAX_DEPTH};
pub use pdu::{
    parse_attribute_lists, parse_search_attribute_response, search_attribute_request, Attributes,
    Piece, MAX_PATTERN,
};
pub use search::{SearchError, ServiceSearch, MAX_RESPONSE_BYTES, SEARCH_TIMEOUT};
pub use xml::record_xml;

/// What went wrong with SDP data or a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    /// Bytes from the peer that are not valid SDP; the text says what.
    Malformed(&'static str),
    /// The server answered with an SDP error code (1: unsupported version, 2: invalid
    /// record handle, 3: invalid syntax, 4: invalid PDU size, 5: invalid continuation
    /// state, 6: insufficient resources).
    ErrorResponse(u16),
    /// A request this client will not send; the text says why.
    BadRequest(&'static str),
    /// A value too large for SDP's 32-bit lengths, or a response over
    /// [`MAX_RESPONSE_BYTES`].
    TooLarge,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::Malformed(what) => write!(f, "malformed SDP data: {what}"),
            SdpError::ErrorResponse(code) => write!(f, "the SDP server answered error {code}"),
            SdpError::BadRequest(why) => write!(f, "bad SDP request: {why}"),
            SdpError::TooLarge => f.write_str("SDP data too large"),
        }
    }
}

impl Error for SdpError {}
