//! `${env:VAR}`, `${env:VAR:-default}` and `${VAR}` in configuration text; `$$` is a literal
//! `$`. An unset variable without a default expands to nothing and is reported, as the
//! Collector does.

/// The expanded text and the names of unset variables that expanded to nothing.
pub(super) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body_start) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(format!("unterminated ${{ in {:?}", first_line(tail)));
        };
        let body = &body_start[..end];
        let reference = body.strip_prefix("env:").unwrap_or(body);
        let (name, default) = match reference.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!("invalid environment variable reference ${{{body}}}"));
        }
        match (lookup(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => unset.push(name.to_owned()),
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok((out, unset))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("4317".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_every_form() {
        let (text, unset) =
            expand("a: ${env:PORT} b: ${PORT} c: ${env:MISSING:-x:y} d: $$HOME e: 5$", env)
                .unwrap();
        assert_eq!(text, "a: 4317 b: 4317 c: x:y d: $HOME e: 5$");
        assert!(unset.is_empty());
    }

    #[test]
    fn set_but_empty_is_not_defaulted_and_unset_is_reported() {
        let (text, unset) = expand("[${env:EMPTY:-d}] [${env:NOPE}]", env).unwrap();
        assert_eq!(text, "[] []");
        assert_eq!(unset, vec!["NOPE"]);
    }

    #[test]
    fn malformed_references_are_errors() {
        assert_eq!(expand("x: ${env:PORT", env).unwrap_err(), "unterminated ${ in \"${env:PORT\"");
        assert_eq!(
            expand("${a b}", env).unwrap_err(),
            "invalid environment variable reference ${a b}"
        );
    }
}
