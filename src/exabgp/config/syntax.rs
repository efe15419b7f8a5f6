//! ExaBGP's configuration syntax: text -> tokens -> a tree of statements and blocks.
//!
//! The character classes are ExaBGP's (`configuration/core/format.py`): `;`, `{` and `}` end a
//! statement; `[`, `]` and `,` are tokens of their own wherever they appear (so a `run` line's
//! `a,b` is three arguments, as in ExaBGP); `"` and `'` quote; `#` starts a comment; a backslash
//! escapes the next character (`\n`, `\t`, `\r`, `\b`, `\f` are control characters) and a backslash
//! at the end of a line continues the statement on the next one.
//!
//! Where rhi differs, it is more lenient or more explicit, never silently different:
//! - a statement may span lines (ExaBGP 4.2 wants it on one line unless continued with `\`);
//! - a `#` glued to a word (`http://host/#x`) is an error here (ExaBGP also fails on it, with a
//!   bare "invalid syntax"): quote the value;
//! - `\"` inside a quoted string is a literal quote (ExaBGP unescapes before it sees quotes, so
//!   there it would end the string).
//!
//! Every token keeps the line and column (both from 1, columns in characters) where it starts.

use crate::config::Position;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word.
    Word,
    /// A word that was (at least partly) quoted: never taken for punctuation or a keyword.
    Quoted,
    Semicolon,
    Open,
    Close,
    LBracket,
    RBracket,
    Comma,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub text: String,
    pub pos: Position,
    /// The line as ExaBGP reads it: lines joined by a trailing `\` count as one.
    pub logical_line: usize,
}

impl Token {
    /// A word (quoted or not) rather than punctuation.
    pub fn is_word(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted)
    }

    /// `[`, `]` or `,`: ExaBGP's list punctuation.
    pub fn is_list_punctuation(&self) -> bool {
        matches!(self.kind, Kind::LBracket | Kind::RBracket | Kind::Comma)
    }
}

/// A problem with the text itself, before any meaning is given to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Position,
    pub message: String,
}

fn fail<T>(pos: Position, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError { pos, message: message.into() })
}

/// A word being built: its text, where it started, and whether any of it was quoted.
struct Pending {
    text: String,
    start: Option<(Position, usize)>,
    quoted: bool,
}

impl Pending {
    fn new() -> Self {
        Pending { text: String::new(), start: None, quoted: false }
    }

    fn push(&mut self, c: char, at: Position, logical_line: usize) {
        self.start.get_or_insert((at, logical_line));
        self.text.push(c);
    }

    fn flush(&mut self, out: &mut Vec<Token>) {
        if let Some((pos, logical_line)) = self.start.take() {
            let kind = if self.quoted { Kind::Quoted } else { Kind::Word };
            out.push(Token { kind, text: std::mem::take(&mut self.text), pos, logical_line });
            self.quoted = false;
        }
    }
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'b' => '\u{8}',
        'f' => '\u{c}',
        other => other,
    }
}

/// Splits configuration text into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 1usize);
    // ExaBGP's line count: a newline right after a `\` does not end the line.
    let (mut logical, mut continued) = (1usize, false);
    let mut word = Pending::new();
    // The quote character and where the quoted part opened.
    let mut quote: Option<(char, Position)> = None;

    while let Some(c) = chars.next() {
        let at = Position { line, column };
        let at_logical = logical;
        if c == '\n' {
            line += 1;
            column = 1;
            if !std::mem::take(&mut continued) {
                logical += 1;
            }
        } else {
            column += 1;
        }
        if let Some((q, opened)) = quote {
            match c {
                _ if c == q => {
                    // ExaBGP ends the token at the closing quote, even an empty one.
                    word.flush(&mut out);
                    quote = None;
                }
                '\n' => return fail(opened, format!("this quoted string is not closed on its line (missing {q})")),
                '\\' => match chars.next() {
                    Some('\n') | None => {
                        return fail(opened, format!("this quoted string is not closed on its line (missing {q})"))
                    }
                    Some(e) => {
                        column += 1;
                        word.push(unescape(e), at, at_logical);
                    }
                },
                _ => word.push(c, at, at_logical),
            }
            continue;
        }
        match c {
            '#' => {
                if word.start.is_some() {
                    return fail(
                        at,
                        "'#' starts a comment, here in the middle of a word: quote the value if the '#' belongs to it",
                    );
                }
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '"' | '\'' => {
                word.quoted = true;
                word.start.get_or_insert((at, at_logical));
                quote = Some((c, at));
            }
            ';' | '{' | '}' | '[' | ']' | ',' => {
                word.flush(&mut out);
                let kind = match c {
                    ';' => Kind::Semicolon,
                    '{' => Kind::Open,
                    '}' => Kind::Close,
                    '[' => Kind::LBracket,
                    ']' => Kind::RBracket,
                    _ => Kind::Comma,
                };
                out.push(Token { kind, text: c.to_string(), pos: at, logical_line: at_logical });
            }
            ' ' | '\t' | '\r' | '\n' => word.flush(&mut out),
            '\\' => match chars.peek() {
                // A line continuation: the statement goes on, the word ends.
                Some('\n') | None => {
                    continued = true;
                    word.flush(&mut out);
                }
                Some('\r') => {
                    chars.next();
                    column += 1;
                    continued = true;
                    word.flush(&mut out);
                }
                Some(&e) => {
                    chars.next();
                    column += 1;
                    word.push(unescape(e), at, at_logical);
                }
            },
            _ => word.push(c, at, at_logical),
        }
    }
    if let Some((q, opened)) = quote {
        return fail(opened, format!("this quoted string is not closed (missing {q})"));
    }
    word.flush(&mut out);
    Ok(out)
}

/// A statement (`words ;`) or a block (`words { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Never empty: the keyword, then its arguments (or the block's name).
    pub words: Vec<Token>,
    /// `Some` for a block.
    pub body: Option<Vec<Node>>,
}

impl Node {
    pub fn pos(&self) -> Position {
        self.words[0].pos
    }

    pub fn keyword(&self) -> &str {
        &self.words[0].text
    }

    /// The statement as written (words joined by spaces), for messages.
    pub fn text(&self) -> String {
        join(&self.words)
    }
}

/// Tokens joined back into a readable line.
pub(crate) fn join(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if t.kind == Kind::Quoted {
            out.push('"');
            out.push_str(&t.text);
            out.push('"');
        } else {
            out.push_str(&t.text);
        }
    }
    out
}

/// Groups tokens into statements and blocks.
pub(crate) fn tree(tokens: Vec<Token>) -> Result<Vec<Node>, SyntaxError> {
    // Open blocks: their head and the nodes read so far inside them.
    let mut stack: Vec<(Vec<Token>, Vec<Node>)> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    let mut current: Vec<Token> = Vec::new();

    for token in tokens {
        if let Some(first) = current.first() {
            if token.logical_line != first.logical_line {
                let what = if token.kind == Kind::Open {
                    format!("'{{' must be on the same line as `{}`", join(&current))
                } else {
                    format!("missing ';' at the end of `{}`", join(&current))
                };
                return fail(
                    first.pos,
                    format!("{what} (ExaBGP reads a statement from one line; end a line with '\\' to continue it)"),
                );
            }
        }
        match token.kind {
            Kind::Semicolon => {
                if current.is_empty() {
                    return fail(token.pos, "stray ';': there is no statement before it (ExaBGP refuses it too)");
                }
                let node = Node { words: std::mem::take(&mut current), body: None };
                stack.last_mut().map_or(&mut top, |(_, items)| items).push(node);
            }
            Kind::Open => {
                if current.is_empty() {
                    return fail(token.pos, "'{' must follow the name of a block (e.g. neighbor 10.0.0.1 {)");
                }
                stack.push((std::mem::take(&mut current), Vec::new()));
            }
            Kind::Close => {
                if let Some(first) = current.first() {
                    return fail(first.pos, format!("missing ';' at the end of `{}`", join(&current)));
                }
                let Some((words, items)) = stack.pop() else {
                    return fail(token.pos, "unexpected '}': there is no open block to close");
                };
                let node = Node { words, body: Some(items) };
                stack.last_mut().map_or(&mut top, |(_, items)| items).push(node);
            }
            _ => current.push(token),
        }
    }
    if let Some(first) = current.first() {
        return fail(first.pos, format!("missing ';' at the end of `{}`", join(&current)));
    }
    if let Some((words, _)) = stack.last() {
        return fail(words[0].pos, format!("the block `{}` is never closed (missing '}}')", join(words)));
    }
    Ok(top)
}

/// Text -> tree in one step.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    // Editors on Windows add a byte-order mark; it is not part of the first keyword.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    tree(tokenize(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    fn texts(text: &str) -> Vec<String> {
        tokenize(text).unwrap().into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokens_with_positions() {
        let tokens = tokenize("neighbor 10.0.0.1 {\n\tlocal-as 65001;\n}\n").unwrap();
        let got: Vec<(Kind, &str, Position)> = tokens.iter().map(|t| (t.kind, t.text.as_str(), t.pos)).collect();
        assert_eq!(
            got,
            vec![
                (Kind::Word, "neighbor", p(1, 1)),
                (Kind::Word, "10.0.0.1", p(1, 10)),
                (Kind::Open, "{", p(1, 19)),
                (Kind::Word, "local-as", p(2, 2)),
                (Kind::Word, "65001", p(2, 11)),
                (Kind::Semicolon, ";", p(2, 16)),
                (Kind::Close, "}", p(3, 1)),
            ]
        );
    }

    #[test]
    fn lists_and_commas_are_tokens_everywhere() {
        assert_eq!(texts("community [65000:1 65000:2];"), ["community", "[", "65000:1", "65000:2", "]", ";"]);
        assert_eq!(texts("run /bin/x a,b;"), ["run", "/bin/x", "a", ",", "b", ";"]);
    }

    #[test]
    fn quotes_keep_spaces_and_punctuation() {
        let tokens = tokenize(r#"run x --cmd "curl -sf http://h/;a,b" 'it''s';"#).unwrap();
        let got: Vec<(&str, Kind)> = tokens.iter().map(|t| (t.text.as_str(), t.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("run", Kind::Word),
                ("x", Kind::Word),
                ("--cmd", Kind::Word),
                ("curl -sf http://h/;a,b", Kind::Quoted),
                ("it", Kind::Quoted),
                ("s", Kind::Quoted),
                (";", Kind::Semicolon),
            ]
        );
        // A quote inside a word joins it; the closing quote ends the token (as in ExaBGP).
        assert_eq!(texts(r#"--x="y z" "";"#), ["--x=y z", "", ";"]);
        assert_eq!(tokenize(r#"a "b c";"#).unwrap()[1].pos, p(1, 3));
    }

    #[test]
    fn comments_and_escapes() {
        assert_eq!(texts("a b; # c d;\n# whole line\ne;"), ["a", "b", ";", "e", ";"]);
        assert_eq!(texts("a \"#not a comment\";"), ["a", "#not a comment", ";"]);
        assert_eq!(texts("run x \\\n  y;"), ["run", "x", "y", ";"]);
        assert_eq!(texts(r#"a "q\"uote" b\ c;"#), ["a", "q\"uote", "b c", ";"]);
        let e = tokenize("run x http://h/#frag;").unwrap_err();
        assert_eq!(e.pos, p(1, 16));
        assert!(e.message.contains("quote the value"), "{}", e.message);
    }

    #[test]
    fn unterminated_quote() {
        let e = tokenize("description \"abc;\nx;").unwrap_err();
        assert_eq!(e.pos, p(1, 13));
        assert!(e.message.contains("not closed"));
        let e = tokenize("description 'abc").unwrap_err();
        assert_eq!(e.pos, p(1, 13));
    }

    #[test]
    fn columns_count_characters() {
        let tokens = tokenize("description \"é\"; x;").unwrap();
        assert_eq!(tokens[3].pos, p(1, 18));
    }

    #[test]
    fn tree_of_blocks_and_statements() {
        let nodes =
            parse("process p { run /x; encoder text; }\nneighbor 10.0.0.1 { family { ipv4 unicast; } }").unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].text(), "process p");
        let body = nodes[0].body.as_ref().unwrap();
        assert_eq!(body.iter().map(Node::text).collect::<Vec<_>>(), ["run /x", "encoder text"]);
        assert!(body[0].body.is_none());
        let family = &nodes[1].body.as_ref().unwrap()[0];
        assert_eq!(family.keyword(), "family");
        assert_eq!(family.pos(), p(2, 21));
        assert_eq!(family.body.as_ref().unwrap()[0].text(), "ipv4 unicast");
    }

    #[test]
    fn statements_end_on_their_line_unless_continued() {
        let e = parse("x {\n  local-address 10.0.0.1\n  local-as 1;\n}").unwrap_err();
        assert_eq!(e.pos, p(2, 3));
        assert_eq!(
            e.message,
            "missing ';' at the end of `local-address 10.0.0.1` (ExaBGP reads a statement from one line; end a line \
             with '\\' to continue it)"
        );
        let e = parse("neighbor 10.0.0.1\n{ }").unwrap_err();
        assert_eq!(e.pos, p(1, 1));
        assert!(e.message.starts_with("'{' must be on the same line as `neighbor 10.0.0.1`"), "{}", e.message);
        let nodes = parse("run a \\\n  b \\\r\n c;\nd;").unwrap();
        assert_eq!(nodes[0].text(), "run a b c");
        assert_eq!(nodes[1].words[0].pos, p(4, 1));
        assert_eq!(nodes[1].words[0].logical_line, 2);
    }

    #[test]
    fn tree_errors_have_positions() {
        let e = parse("neighbor 10.0.0.1 {\n  local-as 1;\n").unwrap_err();
        assert_eq!(
            (e.pos, e.message.as_str()),
            (p(1, 1), "the block `neighbor 10.0.0.1` is never closed (missing '}')")
        );
        let e = parse("a;\n}").unwrap_err();
        assert_eq!(e.pos, p(2, 1));
        assert!(e.message.contains("unexpected '}'"));
        let e = parse("neighbor x {\n  peer-as 1\n}").unwrap_err();
        assert_eq!(e.pos, p(2, 3));
        assert!(e.message.starts_with("missing ';' at the end of `peer-as 1` (ExaBGP reads"), "{}", e.message);
        let e = parse("x { a; };").unwrap_err();
        assert_eq!(e.pos, p(1, 9));
        assert!(e.message.contains("stray ';'"));
        let e = parse("  { a; }").unwrap_err();
        assert_eq!(e.pos, p(1, 3));
        let e = parse("peer-as 1").unwrap_err();
        assert_eq!(e.pos, p(1, 1));
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let nodes = parse("\u{feff}a;").unwrap();
        assert_eq!(nodes[0].pos(), p(1, 1));
    }
}
