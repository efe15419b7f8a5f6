//! Loading never panics, whatever the text, and every position it reports is inside the text.

use proptest::prelude::*;
use rhi::config::Config;

const EXAMPLE: &str = include_str!("../config.example.yaml");
const MAXIMAL: &str = include_str!("fixtures/config/maximal.yaml");

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = Config::from_yaml(text, "x") {
        if let Some(p) = e.position {
            let lines = text.lines().count().max(1);
            prop_assert!(p.line >= 1 && p.line <= lines + 1, "{e} outside {lines} lines");
            prop_assert!(p.column >= 1, "{e}");
        }
    }
    Ok(())
}

/// `text` with the char at `at` (modulo its length) removed, or `ch` inserted there.
fn mutate(text: &str, at: usize, ch: char, delete: bool) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % chars.len().max(1);
    if delete && !chars.is_empty() {
        chars.remove(at);
    } else {
        chars.insert(at, ch);
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text(s in "\\PC{0,300}") {
        check(&s)?;
    }

    #[test]
    fn yaml_like_text(s in "[a-z_:\\-\\[\\]{}, \\n0-9.#&*!|>'\"]{0,300}") {
        check(&s)?;
    }

    #[test]
    fn mutated_example(at in any::<usize>(), ch in prop::sample::select(vec![' ', '\n', ':', '-', '[', '{', '"', '\t', '0', 'x', '#', '&', '*']), delete in any::<bool>()) {
        check(&mutate(EXAMPLE, at, ch, delete))?;
        check(&mutate(MAXIMAL, at, ch, delete))?;
    }
}
