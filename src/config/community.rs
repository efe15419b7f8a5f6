//! Community text <-> values, private to config.
//!
//! MERGE: `rhi::bgp::attributes` will provide `parse_community(&str) -> Result<u32, String>` and
//! `LargeCommunity: FromStr`. When they land, make `parse_community` and `parse_large_community`
//! below call them (or delete them and import those), and keep `community_to_text` in step with
//! the shared list of names. Nothing else in config depends on how parsing is done.

use crate::bgp::attributes::LargeCommunity;

/// Well-known communities (IANA registry) by the names operators write. The first name of a value
/// is the one printed back.
const WELL_KNOWN: &[(&str, u32)] = &[
    ("no-export", 0xFFFF_FF01),
    ("no-advertise", 0xFFFF_FF02),
    ("no-export-subconfed", 0xFFFF_FF03),
    ("local-as", 0xFFFF_FF03),
    ("no-peer", 0xFFFF_FF04),
    ("blackhole", 0xFFFF_029A),
    ("graceful-shutdown", 0xFFFF_0000),
    ("accept-own", 0xFFFF_0001),
    ("llgr-stale", 0xFFFF_0006),
    ("no-llgr", 0xFFFF_0007),
];

/// MERGE: swap for `crate::bgp::attributes::parse_community`.
pub(crate) fn parse_community(text: &str) -> Result<u32, String> {
    if let Some((_, value)) = WELL_KNOWN.iter().find(|(name, _)| *name == text) {
        return Ok(*value);
    }
    let [high, low] = numbers(text, u16::MAX.into()).map_err(|why| {
        format!(
            "`{text}` is not a community: {why}; write AS:VALUE with both at most 65535 \
             (\"65000:46\") or a well-known name (no-export, no-advertise, blackhole, \
             graceful-shutdown, ...)"
        )
    })?;
    Ok((high << 16) | low)
}

/// MERGE: swap for `text.parse::<crate::bgp::attributes::LargeCommunity>()`.
pub(crate) fn parse_large_community(text: &str) -> Result<LargeCommunity, String> {
    let [global, local1, local2] = numbers(text, u32::MAX).map_err(|why| {
        format!(
            "`{text}` is not a large community: {why}; write GLOBAL:LOCAL1:LOCAL2 with each at \
             most 4294967295 (\"65000:0:46\", RFC 8092)"
        )
    })?;
    Ok(LargeCommunity { global, local1, local2 })
}

pub(crate) fn community_to_text(value: u32) -> String {
    match WELL_KNOWN.iter().find(|(_, v)| *v == value) {
        Some((name, _)) => (*name).to_owned(),
        None => format!("{}:{}", value >> 16, value & 0xFFFF),
    }
}

pub(crate) fn large_community_to_text(c: &LargeCommunity) -> String {
    format!("{}:{}:{}", c.global, c.local1, c.local2)
}

/// `N` colon-separated decimal numbers, each at most `max`.
fn numbers<const N: usize>(text: &str, max: u32) -> Result<[u32; N], String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != N {
        return Err(format!("expected {N} numbers separated by `:`"));
    }
    let values: Vec<u32> = parts
        .iter()
        .map(|p| {
            // Digits only: `parse` would also take a leading `+`.
            let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            match p.parse::<u64>().map(u32::try_from) {
                Ok(Ok(n)) if digits && n <= max => Ok(n),
                Ok(_) if digits => Err(format!("{p} is more than {max}")),
                _ => Err(format!("`{p}` is not a number")),
            }
        })
        .collect::<Result<_, _>>()?;
    values.try_into().map_err(|_| format!("expected {N} numbers separated by `:`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_names() {
        assert_eq!(parse_community("65000:46"), Ok(0xFDE8_002E));
        assert_eq!(parse_community("65535:65535"), Ok(u32::MAX));
        assert_eq!(parse_community("0:0"), Ok(0));
        assert_eq!(parse_community("no-export"), Ok(0xFFFF_FF01));
        assert_eq!(parse_community("local-as"), Ok(0xFFFF_FF03));
        assert_eq!(parse_community("blackhole"), Ok(0xFFFF_029A));
        assert_eq!(parse_community("graceful-shutdown"), Ok(0xFFFF_0000));
        assert_eq!(parse_community("no-llgr"), Ok(0xFFFF_0007));
    }

    #[test]
    fn refuses_bad_communities() {
        for bad in ["65536:1", "1:65536", "65000", "a:b", "1:2:3", "", ":1", "-1:2", "+1:2"] {
            assert!(parse_community(bad).is_err(), "{bad}");
        }
        let msg = parse_community("65536:1").unwrap_err();
        assert!(msg.contains("65536 is more than 65535"), "{msg}");
    }

    #[test]
    fn large_communities() {
        let c = parse_large_community("4294967295:0:46").unwrap();
        assert_eq!((c.global, c.local1, c.local2), (u32::MAX, 0, 46));
        assert!(parse_large_community("4294967296:0:0").is_err());
        assert!(parse_large_community("1:2").is_err());
        assert_eq!(large_community_to_text(&c), "4294967295:0:46");
    }

    #[test]
    fn printing_round_trips() {
        for text in ["no-export", "no-export-subconfed", "65000:46", "0:0", "accept-own"] {
            let v = parse_community(text).unwrap();
            assert_eq!(parse_community(&community_to_text(v)), Ok(v));
        }
        assert_eq!(community_to_text(0xFFFF_FF03), "no-export-subconfed");
        assert_eq!(community_to_text(0xFDE8_002E), "65000:46");
    }
}
