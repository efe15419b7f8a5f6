//! The control socket protocol: one JSON object per line each way. A request names its protocol
//! version, so a newer CLI talking to an older daemon (or the reverse) gets a clear error instead
//! of a misread command.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::bgp::attributes::{parse_community, LargeCommunity};
use crate::policy::Announcement;

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    Status,
    Routes {
        #[serde(default)]
        peer: Option<String>,
    },
    Announce {
        prefix: IpNet,
        #[serde(default)]
        route: RouteSpec,
        /// Empty = every peer.
        #[serde(default)]
        peers: Vec<String>,
    },
    Withdraw {
        prefix: IpNet,
        #[serde(default)]
        peers: Vec<String>,
    },
    Drain {
        /// Empty = every VIP.
        #[serde(default)]
        prefixes: Vec<IpNet>,
        /// Overrides `drain.withdraw_after` (humantime, e.g. "30s"; "0s" = stay drained).
        #[serde(default)]
        withdraw_after: Option<String>,
        /// Answer only once the drain is complete (withdrawn, or applied when it stays drained).
        #[serde(default)]
        wait: bool,
    },
    Undrain {
        #[serde(default)]
        prefixes: Vec<IpNet>,
    },
    Reload,
    /// One ExaBGP API command line (`rhi ctl`), answered like a process's: output lines in
    /// `result`, and `ok` for done/error.
    Api {
        line: String,
    },
}

/// The attributes of a manual route, as the operator gave them (kept in this form in the state
/// file, so a restart re-validates them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub as_path_prepend: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
}

fn is_zero(value: &u8) -> bool {
    *value == 0
}

/// Longer paths are filtered by many networks (and as_path_prepend in config has the same cap).
pub const MAX_PREPEND: u8 = 32;

impl RouteSpec {
    pub fn to_announcement(&self) -> Result<Announcement, String> {
        if self.as_path_prepend > MAX_PREPEND {
            return Err(format!("as-path-prepend {} is more than {MAX_PREPEND}", self.as_path_prepend));
        }
        let communities = self.communities.iter().map(|c| parse_community(c)).collect::<Result<Vec<_>, _>>()?;
        let large_communities =
            self.large_communities.iter().map(|c| c.parse::<LargeCommunity>()).collect::<Result<Vec<_>, _>>()?;
        Ok(Announcement {
            med: self.med,
            as_path_prepend: self.as_path_prepend,
            communities,
            large_communities,
            local_pref: self.local_pref,
            next_hop: self.next_hop,
            ..Announcement::default()
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A human-readable one-liner for commands that change something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub result: serde_json::Value,
}

impl Response {
    pub fn done(message: impl Into<String>) -> Response {
        Response { ok: true, error: None, message: Some(message.into()), result: serde_json::Value::Null }
    }

    pub fn data(result: impl Serialize) -> Response {
        match serde_json::to_value(result) {
            Ok(result) => Response { ok: true, error: None, message: None, result },
            Err(error) => Response::refused(format!("cannot encode the answer: {error}")),
        }
    }

    pub fn refused(error: impl Into<String>) -> Response {
        Response { ok: false, error: Some(error.into()), message: None, result: serde_json::Value::Null }
    }
}

/// What each peer has been sent: `rhi routes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvertisedRoute {
    pub peer: String,
    pub prefix: IpNet,
    /// Who holds the route: `config` (a VIP), `manual` (rhi announce), `process:NAME` (an API
    /// process), `ctl` (rhi ctl).
    pub source: String,
    pub med: Option<u32>,
    pub as_path_prepend: u8,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub local_pref: Option<u32>,
    pub next_hop: Option<IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json_lines() {
        let request = Request {
            version: PROTOCOL_VERSION,
            command: Command::Announce {
                prefix: "10.46.46.46/32".parse().unwrap(),
                route: RouteSpec { med: Some(300), communities: vec!["65000:46".into()], ..Default::default() },
                peers: vec!["sw01".into()],
            },
        };
        let line = serde_json::to_string(&request).unwrap();
        assert_eq!(
            line,
            r#"{"version":1,"command":"announce","prefix":"10.46.46.46/32","route":{"med":300,"communities":["65000:46"]},"peers":["sw01"]}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), request);
        let status: Request = serde_json::from_str(r#"{"version":1,"command":"status"}"#).unwrap();
        assert_eq!(status.command, Command::Status);
    }

    #[test]
    fn unknown_commands_and_fields_are_errors() {
        assert!(serde_json::from_str::<Request>(r#"{"version":1,"command":"explode"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"version":1,"command":"withdraw","prefix":"10.0.0.1/32","x":1}"#)
            .is_err());
    }

    #[test]
    fn route_spec_validates_communities() {
        let spec = RouteSpec { communities: vec!["no-export".into(), "65000:1".into()], ..Default::default() };
        assert_eq!(spec.to_announcement().unwrap().communities, vec![0xFFFF_FF01, 65000 << 16 | 1]);
        let bad = RouteSpec { communities: vec!["65000:70000".into()], ..Default::default() };
        assert!(bad.to_announcement().unwrap_err().contains("65000:70000"));
        let long = RouteSpec { as_path_prepend: 33, ..Default::default() };
        assert!(long.to_announcement().is_err());
    }
}
