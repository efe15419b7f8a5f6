//! The serde layer: the YAML schema of DESIGN §2 exactly as written, before validation.
//!
//! Serde enforces the *shape* (known keys, mappings vs lists) because `serde_yaml` can locate those
//! errors itself. Leaves that need a friendly message (addresses, durations, AS numbers, ...) are
//! kept as written and checked in `resolve`, which locates them through the YAML path index. Every
//! field is optional here so that a missing key is reported by `resolve` with the position of the
//! mapping it is missing from, rather than serde's generic "missing field".
//!
//! The same structs serialize the effective configuration (`Config::to_yaml`), so the printed
//! schema cannot drift from the one that is read.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping of settings (router_id, local_as, peers, vips, ...)")]
pub(crate) struct RawConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_as: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<RawPeer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<String, RawCheck>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vips: Option<Vec<RawVip>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<RawDrain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<RawControl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RawMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<RawProcess>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_grace: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<RawGracefulRestart>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a peer mapping (name, address, remote_as, ...)")]
pub(crate) struct RawPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_as: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_retry: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_v6: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<RawBfd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_hold_time: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_security: Option<RawTtlSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<RawGracefulRestart>,
}

/// `ttl_security: true|false` or `{hops: N}` (RFC 5082).
#[derive(Debug)]
pub(crate) enum RawTtlSecurity {
    Enabled(bool),
    Settings(RawTtlSecuritySettings),
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (hops)")]
pub(crate) struct RawTtlSecuritySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<Int>,
}

/// `graceful_restart: true|false` or `{restart_time: 30s}` (RFC 4724).
#[derive(Debug)]
pub(crate) enum RawGracefulRestart {
    Enabled(bool),
    Settings(RawGracefulRestartSettings),
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (restart_time)")]
pub(crate) struct RawGracefulRestartSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_time: Option<DurationText>,
}

/// `bfd: true`, `bfd: false`, or the settings (RFC 5880 timers, RFC 5883 multihop).
#[derive(Debug)]
pub(crate) enum RawBfd {
    Enabled(bool),
    Settings(RawBfdSettings),
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (min_rx, min_tx, multiplier, multihop, min_ttl)")]
pub(crate) struct RawBfdSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rx: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tx: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multihop: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<Int>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a check mapping with one of haproxy, http, tcp, exec")]
pub(crate) struct RawCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<RawHaproxy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<RawHttp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<RawTcp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<RawExec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_interval: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<Int>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (stats_url or stats_socket, backend, min_up, ...)")]
pub(crate) struct RawHaproxy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_url: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_socket: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_up: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_below: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_backup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<Text>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (url, expect_status, expect_body)")]
pub(crate) struct RawHttp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<Text>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (address)")]
pub(crate) struct RawTcp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Text>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (command)")]
pub(crate) struct RawExec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<OneOrMany<Text>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a VIP mapping (prefix, check, med, ...)")]
pub(crate) struct RawVip {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_communities: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_down: Option<RawWhenDown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_degraded: Option<RawOverride>,
}

/// The attributes `when_down` / `when_degraded` may override.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of overrides (med, as_path_prepend, communities, large_communities, local_pref)"
)]
pub(crate) struct RawOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_communities: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<Int>,
}

#[derive(Debug)]
pub(crate) enum RawWhenDown {
    Withdraw,
    /// The word was not `withdraw`: kept so that `resolve` can say so at its position.
    Other(String),
    Announce(RawOverride),
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (med, as_path_prepend, graceful_shutdown, withdraw_after, file, on_shutdown)"
)]
pub(crate) struct RawDrain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_shutdown: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraw_after: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_shutdown: Option<DurationText>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (socket)")]
pub(crate) struct RawControl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<Text>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (listen)")]
pub(crate) struct RawMetrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<Text>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a process mapping (name, run, encoder, ack, neighbors, withdraw_on_exit)")]
pub(crate) struct RawProcess {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbors: Option<OneOrMany<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraw_on_exit: Option<bool>,
}

/// A scalar read as text whatever its YAML type, so that `router_id: 1` or `name: 2` reach the
/// validator (and its precise message) instead of failing as "expected a string".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Text(pub String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a single value (text or number)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text, E> {
                Ok(Text(s))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Text, E> {
                Ok(Text(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text, E> {
                Ok(Text(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text, E> {
                Ok(Text(n.to_string()))
            }
            fn visit_i128<E: de::Error>(self, n: i128) -> Result<Text, E> {
                Ok(Text(n.to_string()))
            }
            fn visit_u128<E: de::Error>(self, n: u128) -> Result<Text, E> {
                Ok(Text(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text, E> {
                Ok(Text(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Any YAML integer, wide enough that `4294967296` or `-1` reach the range check (and its message
/// naming the field) instead of failing inside serde as "expected u32".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Int(pub i128);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Int, E> {
                Ok(Int(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Int, E> {
                Ok(Int(n.into()))
            }
            fn visit_i128<E: de::Error>(self, n: i128) -> Result<Int, E> {
                Ok(Int(n))
            }
            fn visit_u128<E: de::Error>(self, n: u128) -> Result<Int, E> {
                // Beyond i128 is beyond every range rhi accepts: saturate, the check reports it.
                Ok(Int(i128::try_from(n).unwrap_or(i128::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(self.0) {
            Ok(n) => s.serialize_i64(n),
            Err(_) => s.serialize_str(&self.0.to_string()),
        }
    }
}

/// A duration as written. A bare YAML number is kept apart so that `resolve` can say "add a unit"
/// (is `hold_time: 9` seconds or milliseconds? rhi refuses to guess).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationText {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 500ms, 9s or 1m")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DurationText, E> {
                Ok(DurationText::Text(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<DurationText, E> {
                Ok(DurationText::Number(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<DurationText, E> {
                Ok(DurationText::Number(n.to_string()))
            }
            fn visit_i128<E: de::Error>(self, n: i128) -> Result<DurationText, E> {
                Ok(DurationText::Number(n.to_string()))
            }
            fn visit_u128<E: de::Error>(self, n: u128) -> Result<DurationText, E> {
                Ok(DurationText::Number(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<DurationText, E> {
                Ok(DurationText::Number(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DurationText::Text(t) | DurationText::Number(t) => s.serialize_str(t),
        }
    }
}

/// A list that may also be written as its single element (`check: web` or `check: [web, api]`).
/// `scalar` remembers the form so that errors point at `check` rather than a non-existent
/// `check[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OneOrMany<T> {
    pub items: Vec<T>,
    pub scalar: bool,
}

impl<T> OneOrMany<T> {
    pub fn list(items: Vec<T>) -> Self {
        OneOrMany { items, scalar: false }
    }
}

impl<'de> Deserialize<'de> for OneOrMany<Text> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany<Text>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Text>()? {
                    items.push(item);
                }
                Ok(OneOrMany::list(items))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(single(s.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(single(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(single(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(single(n.to_string()))
            }
            fn visit_i128<E: de::Error>(self, n: i128) -> Result<Self::Value, E> {
                Ok(single(n.to_string()))
            }
            fn visit_u128<E: de::Error>(self, n: u128) -> Result<Self::Value, E> {
                Ok(single(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Ok(single(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn single(s: String) -> OneOrMany<Text> {
    OneOrMany { items: vec![Text(s)], scalar: true }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawWhenDown {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawWhenDown;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`withdraw` or a mapping of overrides such as {med: 1000}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawWhenDown, E> {
                Ok(match s {
                    "withdraw" => RawWhenDown::Withdraw,
                    other => RawWhenDown::Other(other.to_owned()),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawWhenDown, A::Error> {
                RawOverride::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawWhenDown::Announce)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for RawWhenDown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawWhenDown::Withdraw => s.serialize_str("withdraw"),
            RawWhenDown::Other(word) => s.serialize_str(word),
            RawWhenDown::Announce(o) => o.serialize(s),
        }
    }
}

/// `true`, `false`, or a mapping of settings: how `bfd`, `ttl_security` and `graceful_restart`
/// are written.
macro_rules! bool_or_settings {
    ($raw:ident, $settings:ident, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $raw {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $raw;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_bool<E: de::Error>(self, b: bool) -> Result<$raw, E> {
                        Ok($raw::Enabled(b))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$raw, A::Error> {
                        $settings::deserialize(de::value::MapAccessDeserializer::new(map)).map($raw::Settings)
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl Serialize for $raw {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $raw::Enabled(b) => s.serialize_bool(*b),
                    $raw::Settings(settings) => settings.serialize(s),
                }
            }
        }
    };
}

bool_or_settings!(RawTtlSecurity, RawTtlSecuritySettings, "`true`, `false` or a mapping such as {hops: 1}");
bool_or_settings!(
    RawGracefulRestart,
    RawGracefulRestartSettings,
    "`true`, `false` or a mapping such as {restart_time: 30s}"
);
bool_or_settings!(
    RawBfd,
    RawBfdSettings,
    "`true`, `false` or a mapping such as {min_rx: 100ms, min_tx: 100ms, multiplier: 3}"
);
