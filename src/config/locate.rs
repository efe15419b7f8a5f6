//! Where each node of the YAML text is, by path (`peers[1].hold_time`), so that checks done after
//! deserialization can still report `line:col`.
//!
//! yaml-rust2's event parser does the parsing; this module only follows the events. It drives
//! `Parser::next_token` in a loop rather than `Parser::load`, because `load` recurses once per
//! nesting level and a hostile file could overflow the stack. The same pass rejects what serde
//! would silently accept: a key repeated in one mapping (the last one would win) and a second
//! YAML document (which serde_yaml reports without a position).

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::Position;

/// Deeper than any rhi configuration needs; a guard against pathological input, not a schema rule.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root, displayed the way serde_yaml displays its own paths, so that
/// both kinds of error read alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct YamlPath(Vec<Seg>);

impl YamlPath {
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        self.with(Seg::Key(key.to_owned()))
    }

    pub fn index(&self, i: usize) -> Self {
        self.with(Seg::Index(i))
    }

    fn with(&self, seg: Seg) -> Self {
        let mut segs = self.0.clone();
        segs.push(seg);
        YamlPath(segs)
    }

    fn parent(&self) -> Option<Self> {
        let (_, rest) = self.0.split_last()?;
        Some(YamlPath(rest.to_vec()))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML-level problem found while indexing, before any schema check.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub position: Option<Position>,
    pub message: String,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    nodes: HashMap<YamlPath, Position>,
}

impl Index {
    pub fn build(text: &str) -> Result<Index, SyntaxError> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
                position: Some(position(e.marker())),
                message: format!("invalid YAML: {}", e.info()),
            })?;
            if event == Event::StreamEnd {
                return Ok(builder.index);
            }
            builder.on_event(event, mark)?;
        }
    }

    /// The position of `path`, or of its nearest ancestor that exists in the text (a missing key
    /// is reported where its mapping is; nodes under an alias where the alias is).
    pub fn position(&self, path: &YamlPath) -> Option<Position> {
        let mut cur = Some(path.clone());
        while let Some(p) = cur {
            if let Some(pos) = self.nodes.get(&p) {
                return Some(*pos);
            }
            cur = p.parent();
        }
        None
    }

    /// True when the document holds no node at all (empty file or only comments).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

fn position(mark: &Marker) -> Position {
    // yaml-rust2 counts lines from 1 but columns from 0; editors and serde_yaml count both from 1.
    Position { line: mark.line(), column: mark.col() + 1 }
}

#[derive(Debug)]
enum Frame {
    Map {
        path: YamlPath,
        /// Where the mapping node starts, in chars: a block mapping's start event comes after
        /// its first key, so the first key may move the mapping's position back.
        start: usize,
        keys: HashMap<String, Position>,
        /// The key whose value comes next; `None` when the next node is a key.
        pending: Option<(String, Marker)>,
    },
    Seq {
        path: YamlPath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    index: Index,
    stack: Vec<Frame>,
    documents: usize,
}

/// Stands for a key that is not a plain scalar (`? [a, b]`, an alias): never a schema key, so it
/// is only kept to pair with its value.
const COMPLEX_KEY: &str = "?";

enum Role {
    Key,
    Node { path: YamlPath, key_mark: Option<Marker> },
}

impl Builder {
    fn on_event(&mut self, event: Event, mark: Marker) -> Result<(), SyntaxError> {
        match event {
            Event::DocumentStart => self.document_start(mark),
            Event::Scalar(value, style, ..) => self.scalar(value, style, mark),
            Event::Alias(_) => self.leaf_or_key(COMPLEX_KEY.to_owned(), mark, false),
            Event::MappingStart(..) => self.open(mark, true),
            Event::SequenceStart(..) => self.open(mark, false),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn document_start(&mut self, mark: Marker) -> Result<(), SyntaxError> {
        self.documents += 1;
        if self.documents > 1 {
            return Err(SyntaxError {
                position: Some(position(&mark)),
                message: "a second YAML document (after `---`): the configuration is one document".to_owned(),
            });
        }
        Ok(())
    }

    fn scalar(&mut self, value: String, style: TScalarStyle, mark: Marker) -> Result<(), SyntaxError> {
        let empty = value.is_empty() && style == TScalarStyle::Plain;
        self.leaf_or_key(value, mark, empty)
    }

    /// A scalar or alias: either the next key of the enclosing mapping, or a value node.
    fn leaf_or_key(&mut self, value: String, mark: Marker, empty: bool) -> Result<(), SyntaxError> {
        match self.role() {
            Role::Key => self.set_key(value, mark),
            Role::Node { path, key_mark } => {
                // An empty value (`hold_time:`) is "placed" by the parser at the next token, often
                // on the next line; its key is where the reader's eye is.
                let at = match key_mark {
                    Some(k) if empty => k,
                    _ => mark,
                };
                self.index.nodes.insert(path, position(&at));
                Ok(())
            }
        }
    }

    fn open(&mut self, mark: Marker, mapping: bool) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                position: Some(position(&mark)),
                message: format!("nested more than {MAX_DEPTH} levels deep"),
            });
        }
        let path = match self.role() {
            Role::Key => {
                // A collection used as a key: its children are indexed under a placeholder.
                self.set_key(COMPLEX_KEY.to_owned(), mark)?;
                self.current_path().key(COMPLEX_KEY)
            }
            Role::Node { path, .. } => path,
        };
        self.index.nodes.insert(path.clone(), position(&mark));
        self.stack.push(if mapping {
            Frame::Map { path, start: mark.index(), keys: HashMap::new(), pending: None }
        } else {
            Frame::Seq { path, next: 0 }
        });
        Ok(())
    }

    fn current_path(&self) -> YamlPath {
        match self.stack.last() {
            Some(Frame::Map { path, .. } | Frame::Seq { path, .. }) => path.clone(),
            None => YamlPath::root(),
        }
    }

    /// What the node starting at `mark` is: a key, or a node with this path.
    fn role(&mut self) -> Role {
        match self.stack.last_mut() {
            None => Role::Node { path: YamlPath::root(), key_mark: None },
            Some(Frame::Seq { path, next }) => {
                let path = path.index(*next);
                *next += 1;
                Role::Node { path, key_mark: None }
            }
            Some(Frame::Map { path, pending, .. }) => match pending.take() {
                None => Role::Key,
                Some((key, key_mark)) => Role::Node { path: path.key(&key), key_mark: Some(key_mark) },
            },
        }
    }

    fn set_key(&mut self, key: String, mark: Marker) -> Result<(), SyntaxError> {
        let Some(Frame::Map { path, start, keys, pending }) = self.stack.last_mut() else {
            return Ok(());
        };
        if mark.index() < *start {
            *start = mark.index();
            self.index.nodes.insert(path.clone(), position(&mark));
        }
        if key != COMPLEX_KEY {
            if let Some(first) = keys.get(&key) {
                return Err(SyntaxError {
                    position: Some(position(&mark)),
                    message: format!(
                        "{}: `{key}` is given twice in the same mapping (first on line {})",
                        path.key(&key),
                        first.line
                    ),
                });
            }
            keys.insert(key.clone(), position(&mark));
        }
        *pending = Some((key, mark));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(index: &Index, path: &YamlPath) -> (usize, usize) {
        let p = index.position(path).expect("indexed");
        (p.line, p.column)
    }

    #[test]
    fn block_mapping_is_placed_at_its_first_key() {
        let idx = Index::build("a: 1\npeers:\n  - name: sw01\n    hold_time: 9s\n").unwrap();
        let peer = YamlPath::root().key("peers").index(0);
        assert_eq!(pos(&idx, &YamlPath::root()), (1, 1));
        assert_eq!(pos(&idx, &peer), (3, 5));
        assert_eq!(pos(&idx, &peer.key("name")), (3, 11));
        assert_eq!(pos(&idx, &peer.key("hold_time")), (4, 16));
    }

    #[test]
    fn flow_collections_are_placed_at_their_bracket() {
        let idx = Index::build("c: {a: [x, y]}\n").unwrap();
        let a = YamlPath::root().key("c").key("a");
        assert_eq!(pos(&idx, &YamlPath::root().key("c")), (1, 4));
        assert_eq!(pos(&idx, &a), (1, 8));
        assert_eq!(pos(&idx, &a.index(1)), (1, 12));
    }

    #[test]
    fn empty_value_is_placed_at_its_key() {
        let idx = Index::build("a:\nb: 1\n").unwrap();
        assert_eq!(pos(&idx, &YamlPath::root().key("a")), (1, 1));
    }

    #[test]
    fn missing_node_falls_back_to_nearest_ancestor() {
        let idx = Index::build("x: 1\npeers:\n  - name: a\n").unwrap();
        let p = YamlPath::root().key("peers").index(0).key("address");
        assert_eq!(pos(&idx, &p), (3, 5));
    }

    #[test]
    fn duplicate_key_is_an_error_at_the_second_key() {
        let e = Index::build("checks:\n  web: {}\n  web: {}\n").unwrap_err();
        let p = e.position.unwrap();
        assert_eq!((p.line, p.column), (3, 3));
        assert!(e.message.contains("checks.web: `web` is given twice"), "{}", e.message);
        assert!(e.message.contains("first on line 2"), "{}", e.message);
    }

    #[test]
    fn second_document_is_an_error() {
        let e = Index::build("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.position.unwrap().line, 2);
    }

    #[test]
    fn syntax_error_is_located() {
        let e = Index::build("a: [1\n").unwrap_err();
        assert_eq!(e.position.unwrap().line, 2);
        assert!(e.message.starts_with("invalid YAML"));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        for depth in [100, 100_000] {
            let e = Index::build(&"[".repeat(depth)).unwrap_err();
            assert!(e.position.is_some());
            assert!(e.message.contains("nested") || e.message.contains("recursion limit"), "{}", e.message);
        }
    }

    #[test]
    fn complex_keys_and_aliases_do_not_confuse_the_index() {
        let idx = Index::build("? [a]\n: 1\nx: &k 2\ny: *k\nz: 3\n").unwrap();
        assert_eq!(pos(&idx, &YamlPath::root().key("y")), (4, 4));
        assert_eq!(pos(&idx, &YamlPath::root().key("z")), (5, 4));
    }

    #[test]
    fn empty_text_has_no_nodes() {
        assert!(Index::build("").unwrap().is_empty());
        assert!(Index::build("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn paths_display_like_serde_yaml() {
        let p = YamlPath::root().key("peers").index(1).key("hold_time");
        assert_eq!(p.to_string(), "peers[1].hold_time");
    }
}
