//! `ConfigError`: one located, human-readable problem with a configuration file.

use std::fmt;

/// A place in the configuration text, both counted from 1 as editors do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Displays as `file:line:col: message` (or `file: message` when no position applies, e.g. an
/// unreadable file), the format editors and CI annotations jump to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name, or whatever the caller named the text (`from_yaml`'s `origin`).
    pub origin: String,
    pub position: Option<Position>,
    /// Starts with the YAML path of the offending node (`peers[1].hold_time: ...`) when there is
    /// one.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}: {}", self.origin, p, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// serde_yaml already knows where its errors are; its message ends with " at line L column C",
/// which is removed because the position moves to the front.
pub(crate) fn from_serde(origin: &str, err: &serde_yaml::Error) -> ConfigError {
    let position = err.location().map(|l| Position { line: l.line(), column: l.column() });
    let mut message = err.to_string();
    if let Some(l) = err.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        message = message.replacen(&suffix, "", 1);
    }
    ConfigError { origin: origin.to_owned(), position, message: with_key_suggestion(message) }
}

/// serde's "unknown field `holdtime`, expected one of `hold_time`, ..." gains "did you mean
/// `hold_time`?" when one of the expected keys is a likely typo of the unknown one.
fn with_key_suggestion(message: String) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else {
        return message;
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message;
    };
    if unknown == "<<" {
        return format!("{message}; YAML merge keys are not supported: write the settings out in full");
    }
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match closest(unknown, candidates.iter().copied()) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message,
    }
}

/// The candidate within a small edit distance of `word`, if any: typos, not guesses.
pub(crate) fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates.map(|c| (edit_distance(word, c), c)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_position() {
        let mut e = ConfigError {
            origin: "/etc/rhi/rhi.yaml".into(),
            position: Some(Position { line: 12, column: 14 }),
            message: "peers[1].hold_time: bad".into(),
        };
        assert_eq!(e.to_string(), "/etc/rhi/rhi.yaml:12:14: peers[1].hold_time: bad");
        e.position = None;
        assert_eq!(e.to_string(), "/etc/rhi/rhi.yaml: peers[1].hold_time: bad");
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(closest("holdtime", ["hold_time", "port"].into_iter()), Some("hold_time"));
        assert_eq!(closest("colour", ["hold_time", "port"].into_iter()), None);
        let m = with_key_suggestion("peers[0]: unknown field `remote-as`, expected one of `name`, `remote_as`".into());
        assert!(m.ends_with("; did you mean `remote_as`?"), "{m}");
        let m = with_key_suggestion("peers[1]: unknown field `<<`, expected `name`".into());
        assert!(m.ends_with("merge keys are not supported: write the settings out in full"));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
