//! How error messages show a JSON value they did not expect, and a list of names: settings,
//! quantities, container lists and resources all say what they found in the same words.

use serde_json::Value;

/// A short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!(
                "the string \"{}...\"",
                s.chars().take(40).collect::<String>()
            )
        }
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `a, b and c`.
pub(crate) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [rest @ .., last] => format!("{} and {}", join(rest, ", "), last.as_ref()),
    }
}

/// The items with `separator` between them, from any iterator of names (map keys, the names in a
/// list of findings) without collecting them first. std's `join` and `concat` would also add
/// callers of `Vec<u8>`'s slice extend, which the module's JSON writer calls for longer pieces
/// (`output.rs`).
pub(crate) fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>, separator: &str) -> String {
    let mut joined = String::new();
    for (at, item) in items.into_iter().enumerate() {
        if at > 0 {
            joined.push_str(separator);
        }
        joined.push_str(item.as_ref());
    }
    joined
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{and_list, join};

    #[rstest]
    #[case(&[], "", "")]
    #[case(&["a"], "a", "a")]
    #[case(&["a", "b"], "a; b", "a and b")]
    #[case(&["a", "", "c"], "a; ; c", "a,  and c")]
    fn lists_of_names(#[case] items: &[&str], #[case] joined: &str, #[case] listed: &str) {
        assert_eq!(join(items, "; "), joined);
        assert_eq!(
            join(items.iter().map(|item| item.to_string()), "; "),
            joined
        );
        assert_eq!(and_list(items), listed);
    }
}
