//! A record in the XML form bluetoothd's `ProfileManager1.RegisterProfile` takes as its
//! `ServiceRecord` option (BlueZ's `src/sdp-xml.c` reads it).
//!
//! Facts from that reader: integers go through `strtoul(…, 0)`, so `0x` hex works for
//! every width up to 64 bits and signed values may be written as their two's complement;
//! 128-bit integers are exactly 32 hex digits; a UUID is 36 characters for 128 bits or a
//! hex number otherwise; text is taken as is, or as hex with `encoding="hex"`.

use std::fmt::Write;

use uuid::Uuid;

use super::{Attributes, DataElement, SdpError};
use crate::uuids::{short16, short32};

/// The XML of a record with these attributes.
///
/// # Errors
/// [`SdpError::BadRequest`] for a URL that is not UTF-8 or holds a control character
/// (BlueZ's XML reader has no hex form for URLs).
pub fn record_xml(attributes: &Attributes) -> Result<String, SdpError> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<record>\n");
    for (id, value) in attributes {
        let _ = writeln!(out, "  <attribute id=\"0x{id:04x}\">");
        element(&mut out, value, 2)?;
        out.push_str("  </attribute>\n");
    }
    out.push_str("</record>\n");
    Ok(out)
}

fn element(out: &mut String, e: &DataElement, depth: usize) -> Result<(), SdpError> {
    let pad = "  ".repeat(depth);
    let line = match e {
        DataElement::Nil => "<nil/>".to_string(),
        DataElement::Bool(b) => format!("<boolean value=\"{b}\"/>"),
        DataElement::U8(v) => format!("<uint8 value=\"0x{v:02x}\"/>"),
        DataElement::U16(v) => format!("<uint16 value=\"0x{v:04x}\"/>"),
        DataElement::U32(v) => format!("<uint32 value=\"0x{v:08x}\"/>"),
        DataElement::U64(v) => format!("<uint64 value=\"0x{v:016x}\"/>"),
        DataElement::U128(v) => format!("<uint128 value=\"{v:032x}\"/>"),
        DataElement::I8(v) => format!("<int8 value=\"0x{:02x}\"/>", *v as u8),
        DataElement::I16(v) => format!("<int16 value=\"0x{:04x}\"/>", *v as u16),
        DataElement::I32(v) => format!("<int32 value=\"0x{:08x}\"/>", *v as u32),
        DataElement::I64(v) => format!("<int64 value=\"0x{:016x}\"/>", *v as u64),
        DataElement::I128(v) => format!("<int128 value=\"{:032x}\"/>", *v as u128),
        DataElement::Uuid(u) => format!("<uuid value=\"{}\"/>", uuid_text(*u)),
        DataElement::Text(t) => match std::str::from_utf8(t) {
            Ok(s) if !s.chars().any(char::is_control) => {
                format!("<text value=\"{}\"/>", escape(s))
            }
            _ => {
                let mut hex = String::with_capacity(t.len() * 2);
                for b in t {
                    let _ = write!(hex, "{b:02x}");
                }
                format!("<text encoding=\"hex\" value=\"{hex}\"/>")
            }
        },
        DataElement::Url(t) => match std::str::from_utf8(t) {
            Ok(s) if !s.chars().any(char::is_control) => {
                format!("<url value=\"{}\"/>", escape(s))
            }
            _ => return Err(SdpError::BadRequest("a URL BlueZ's XML cannot carry")),
        },
        DataElement::Sequence(items) | DataElement::Alternative(items) => {
            let tag = if matches!(e, DataElement::Sequence(_)) {
                "sequence"
            } else {
                "alternate"
            };
            let _ = writeln!(out, "{pad}<{tag}>");
            for item in items {
                element(out, item, depth + 1)?;
            }
            let _ = writeln!(out, "{pad}</{tag}>");
            return Ok(());
        }
    };
    let _ = writeln!(out, "{pad}{line}");
    Ok(())
}

fn uuid_text(u: Uuid) -> String {
    match (short16(u), short32(u)) {
        (Some(s), _) => format!("0x{s:04x}"),
        (None, Some(s)) => format!("0x{s:08x}"),
        _ => u.hyphenated().to_string(),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uuids::uuid16;

    #[test]
    fn serial_port_style_record() {
        let custom: Uuid = "e8e10f95-1a70-4b27-9ccf-02010264e9c8".parse().unwrap();
        let mut a = Attributes::new();
        a.insert(
            0x0001,
            DataElement::Sequence(vec![custom.into(), uuid16(0x1101).into()]),
        );
        a.insert(0x0100, "chat <&> \"x\"".into());
        a.insert(0x0101, DataElement::Text(vec![b'a', 0, 0xff]));
        a.insert(0x0200, DataElement::I8(-2));
        a.insert(0x0201, DataElement::U128(1));
        let xml = record_xml(&a).unwrap();
        let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>
<record>
  <attribute id=\"0x0001\">
    <sequence>
      <uuid value=\"e8e10f95-1a70-4b27-9ccf-02010264e9c8\"/>
      <uuid value=\"0x1101\"/>
    </sequence>
  </attribute>
  <attribute id=\"0x0100\">
    <text value=\"chat &lt;&amp;&gt; &quot;x&quot;\"/>
  </attribute>
  <attribute id=\"0x0101\">
    <text encoding=\"hex\" value=\"6100ff\"/>
  </attribute>
  <attribute id=\"0x0200\">
    <int8 value=\"0xfe\"/>
  </attribute>
  <attribute id=\"0x0201\">
    <uint128 value=\"00000000000000000000000000000001\"/>
  </attribute>
</record>
";
        assert_eq!(xml, expected);
        let mut bad = Attributes::new();
        bad.insert(0x0300, DataElement::Url(vec![0xff]));
        assert!(record_xml(&bad).is_err());
    }
}
