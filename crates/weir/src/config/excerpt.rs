//! One node of a YAML document cut out in place: the lines before it are emptied and the
//! text before it on its first line is blanked, so the excerpt parses on its own and the
//! parser's line and column are still the document's.

use serde_saphyr::Location;

/// The node starting at `at` in `text`, with everything else blanked. A node that starts its
/// line (a block mapping) runs while lines are indented at least as far; one that starts
/// after its key (a flow mapping or scalar) runs while lines are indented further than the
/// key's line. Blank and comment lines never end a node. An unknown location gives the whole
/// text.
pub(super) fn of(text: &str, at: &Location) -> String {
    let (line, column) = (at.line() as usize, at.column() as usize);
    let lines: Vec<&str> = text.split('\n').collect();
    if line == 0 || column == 0 || line > lines.len() {
        return text.to_owned();
    }
    let first = lines[line - 1];
    let indent = indentation(first);
    let start = column - 1; // in characters
    let threshold = if start <= indent { indent } else { indent + 1 };

    let mut out = String::with_capacity(text.len());
    for _ in 1..line {
        out.push('\n');
    }
    for (i, c) in first.chars().enumerate() {
        out.push(if i < start { ' ' } else { c });
    }
    for next in &lines[line..] {
        let blank = next.trim().is_empty() || next.trim_start().starts_with('#');
        if !blank && indentation(next) < threshold {
            break;
        }
        out.push('\n');
        out.push_str(next);
    }
    out.push('\n');
    out
}

fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ').count()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_saphyr::Spanned;

    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        a: Spanned<serde_json::Value>,
        b: Spanned<serde_json::Value>,
    }

    #[test]
    fn cuts_block_and_flow_nodes_in_place() {
        let text = "a:\n  x: 1\n  # note\n  y:\n    - 2\nb: {z: 3,\n  w: 4}\nc: 5\n";
        let doc: Doc = serde_saphyr::from_str(text).unwrap();
        let a = of(text, &doc.a.referenced);
        assert_eq!(a, "\n  x: 1\n  # note\n  y:\n    - 2\n");
        let b = of(text, &doc.b.referenced);
        assert_eq!(b, "\n\n\n\n\n   {z: 3,\n  w: 4}\n");
        let parsed: serde_json::Value = serde_saphyr::from_str(&b).unwrap();
        assert_eq!(parsed, serde_json::json!({"z": 3, "w": 4}));
    }
}
