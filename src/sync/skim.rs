//! A pull answer's fields other than its changes, found without parsing the changes. A page that
//! is not the last is staged as its bytes and its changes are parsed once, when the last page
//! applies them (`stage.rs`); reading its cursor and `more` with a JSON parser still walked every
//! value of every change, a tenth of a first sync in the wasm (bench/RESULTS.md). Skipping the
//! changes by their brackets and strings alone reads a byte at a time and builds nothing. What
//! this does not check, the parse of the staged page does.

/// How every primary writes an answer: `changes` first.
const CHANGES_FIRST: &[u8] = b"{\"changes\":";

/// The answer `body` with its changes replaced by `null`, when it begins with its `changes`
/// array as a primary writes it; None otherwise (the caller then reads it whole).
pub(crate) fn without_changes(body: &[u8]) -> Option<Vec<u8>> {
    let changes = body.strip_prefix(CHANGES_FIRST)?;
    let rest = &changes[bracketed_len(changes)?..];
    let mut header = Vec::with_capacity(CHANGES_FIRST.len() + 4 + rest.len());
    header.extend_from_slice(CHANGES_FIRST);
    header.extend_from_slice(b"null");
    header.extend_from_slice(rest);
    Some(header)
}

/// The length of the array or object `json` begins with, its closing bracket included, by its
/// brackets and strings alone; None when it does not begin with one or does not end.
fn bracketed_len(json: &[u8]) -> Option<usize> {
    if !matches!(json.first(), Some(b'[' | b'{')) {
        return None;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            // A string's brackets are not the value's: skip to its closing quote.
            b'"' => loop {
                i += 1;
                match json.get(i)? {
                    b'"' => break,
                    b'\\' => i += 1,
                    _ => {}
                }
            },
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PullResponse;
    use serde::de::IgnoredAny;

    fn header(json: &[u8]) -> PullResponse<IgnoredAny> {
        serde_json::from_slice(json).unwrap()
    }

    #[test]
    fn the_rest_of_an_answer_reads_as_it_does_whole() {
        let answers: [&[u8]; 4] = [
            br#"{"changes":[[1,"items",[1],["a]\"[{","\\",{"blob":"AP8="}]],[2,"t",["}"],null]],"cursor":2,"more":true,"epoch":"e@2","columns":{"items":["x","y","z"]}}"#,
            br#"{"changes":[],"cursor":9,"more":false}"#,
            br#"{"changes":[{"version":3,"table":"items","key":["\"]"],"row":{"t":"[[["}}],"cursor":3,"more":true}"#,
            "{\"changes\":[[4,\"items\",[4],[\"é ☃ \\u005d\"]]],\"cursor\":4,\"more\":true}".as_bytes(),
        ];
        for answer in answers {
            let skimmed = without_changes(answer).expect("skimmed");
            let (skimmed, whole) = (header(&skimmed), header(answer));
            assert_eq!(
                (
                    skimmed.cursor,
                    skimmed.more,
                    &skimmed.epoch,
                    &skimmed.columns
                ),
                (whole.cursor, whole.more, &whole.epoch, &whole.columns)
            );
        }
    }

    #[test]
    fn an_answer_of_another_shape_is_left_to_the_parser() {
        for body in [
            &br#"{"cursor":2,"changes":[],"more":false}"#[..],
            br#"{ "changes": [], "cursor": 2 }"#,
            br#"{"changes":null,"cursor":2}"#,
            br#"{"changes":[[1,"items",[1],["unterminated]]]}"#,
            br#"{"changes":[[1,"items"]"#,
            br#"{"error":{"code":"UNAUTHORIZED","message":"no"}}"#,
        ] {
            assert_eq!(
                without_changes(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
