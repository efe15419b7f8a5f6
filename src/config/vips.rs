//! The `vips:` section: what this node announces, and with which attributes in each health state.

use std::collections::BTreeMap;

use super::community::{parse_community, parse_large_community};
use super::error::{closest, ConfigError};
use super::locate::YamlPath;
use super::raw::{Int, OneOrMany, RawOverride, RawVip, RawWhenDown, Text};
use super::resolve::{item_path, Ctx};
use super::values;
use super::{AttrOverride, CheckConfig, RouteAttrs, VipConfig, WhenDown};
use crate::bgp::attributes::LargeCommunity;

pub(crate) fn resolve(
    ctx: &Ctx<'_>,
    raw: &[RawVip],
    checks: &BTreeMap<String, CheckConfig>,
) -> Result<Vec<VipConfig>, ConfigError> {
    let base = YamlPath::root().key("vips");
    let mut out: Vec<VipConfig> = Vec::new();
    for (i, vip) in raw.iter().enumerate() {
        let path = base.index(i);
        let resolved = resolve_one(ctx, &path, vip, checks)?;
        if let Some(first) = out.iter().position(|v| v.prefix == resolved.prefix) {
            return Err(
                ctx.error(&path.key("prefix"), format!("{} is listed twice (also vips[{first}])", resolved.prefix))
            );
        }
        out.push(resolved);
    }
    Ok(out)
}

fn resolve_one(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: &RawVip,
    checks: &BTreeMap<String, CheckConfig>,
) -> Result<VipConfig, ConfigError> {
    let prefix = ctx.required(
        raw.prefix.as_ref(),
        &path.key("prefix"),
        "the address to announce (e.g. prefix: 10.46.46.46/32)",
    )?;
    Ok(VipConfig {
        prefix: ctx.at(&path.key("prefix"), values::prefix(prefix.as_str()))?,
        checks: check_names(ctx, &path.key("check"), raw.check.as_ref(), checks)?,
        attributes: route_attrs(ctx, path, raw)?,
        when_down: when_down(ctx, &path.key("when_down"), raw.when_down.as_ref())?,
        when_degraded: match &raw.when_degraded {
            Some(o) => Some(override_attrs(ctx, &path.key("when_degraded"), o)?),
            None => None,
        },
    })
}

fn check_names(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&OneOrMany<Text>>,
    checks: &BTreeMap<String, CheckConfig>,
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for (i, name) in list.items.iter().enumerate() {
        let at = item_path(path, list, i);
        let name = name.as_str();
        if !checks.contains_key(name) {
            return Err(ctx.error(&at, undefined_check(name, checks)));
        }
        if out.iter().any(|n| n == name) {
            return Err(ctx.error(&at, format!("check `{name}` is listed twice")));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn undefined_check(name: &str, checks: &BTreeMap<String, CheckConfig>) -> String {
    let mut msg = format!("check `{name}` is not defined under checks");
    if checks.is_empty() {
        msg.push_str(" (there is no checks section)");
        return msg;
    }
    let known: Vec<&str> = checks.keys().map(String::as_str).collect();
    msg = format!("{msg} (defined: {})", known.join(", "));
    match closest(name, known.into_iter()) {
        Some(best) => format!("{msg}; did you mean `{best}`?"),
        None => msg,
    }
}

fn route_attrs(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawVip) -> Result<RouteAttrs, ConfigError> {
    Ok(RouteAttrs {
        med: opt_u32(ctx, &path.key("med"), raw.med.as_ref())?,
        as_path_prepend: ctx
            .opt(raw.as_path_prepend.as_ref(), &path.key("as_path_prepend"), 0, |v| values::as_path_prepend(*v))?,
        communities: communities(ctx, &path.key("communities"), raw.communities.as_ref())?,
        large_communities: large_communities(ctx, &path.key("large_communities"), raw.large_communities.as_ref())?,
        local_pref: opt_u32(ctx, &path.key("local_pref"), raw.local_pref.as_ref())?,
    })
}

fn when_down(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&RawWhenDown>) -> Result<WhenDown, ConfigError> {
    match raw {
        None | Some(RawWhenDown::Withdraw) => Ok(WhenDown::Withdraw),
        Some(RawWhenDown::Other(word)) => Err(ctx.error(
            path,
            format!(
                "`{word}` is not allowed: write `withdraw`, or a mapping of overrides to stay \
                 announced but unpreferred (e.g. {{med: 1000, as_path_prepend: 3}})"
            ),
        )),
        Some(RawWhenDown::Announce(o)) => {
            let o = override_attrs(ctx, path, o)?;
            if o == AttrOverride::default() {
                return Err(ctx.error(
                    path,
                    "an empty mapping would keep a failed VIP announced exactly as if healthy; \
                     give overrides (e.g. {med: 1000}) or write `withdraw`",
                ));
            }
            Ok(WhenDown::Announce(o))
        }
    }
}

pub(crate) fn override_attrs(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawOverride) -> Result<AttrOverride, ConfigError> {
    Ok(AttrOverride {
        med: opt_u32(ctx, &path.key("med"), raw.med.as_ref())?,
        as_path_prepend: ctx.opt(raw.as_path_prepend.as_ref(), &path.key("as_path_prepend"), None, |v| {
            values::as_path_prepend(*v).map(Some)
        })?,
        communities: communities(ctx, &path.key("communities"), raw.communities.as_ref())?,
        large_communities: large_communities(ctx, &path.key("large_communities"), raw.large_communities.as_ref())?,
        local_pref: opt_u32(ctx, &path.key("local_pref"), raw.local_pref.as_ref())?,
    })
}

fn opt_u32(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&Int>) -> Result<Option<u32>, ConfigError> {
    ctx.opt(raw, path, None, |v| values::u32_value(*v).map(Some))
}

fn communities(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&OneOrMany<Text>>) -> Result<Vec<u32>, ConfigError> {
    parse_each(ctx, path, raw, |t| parse_community(t.trim()))
}

fn large_communities(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&OneOrMany<Text>>,
) -> Result<Vec<LargeCommunity>, ConfigError> {
    parse_each(ctx, path, raw, |t| parse_large_community(t.trim()))
}

fn parse_each<T>(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&OneOrMany<Text>>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    list.items.iter().enumerate().map(|(i, t)| ctx.at(&item_path(path, list, i), parse(t.as_str()))).collect()
}
