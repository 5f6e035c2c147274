//! `hardcoded-secret-arn`: a Secrets Manager ARN with its random suffix
//! written literally. Secrets Manager appends `-` and six random
//! characters to a secret's name in its ARN; re-creating the secret
//! changes them, so a pinned ARN silently points at a deleted secret.

use super::{Context, Rule};
use crate::finding::{Finding, Severity};

pub struct HardcodedSecretArn;

impl Rule for HardcodedSecretArn {
    fn id(&self) -> &'static str {
        "hardcoded-secret-arn"
    }

    fn description(&self) -> &'static str {
        "a Secrets Manager ARN with its random six-character suffix is written literally"
    }

    fn check_file(&self, cx: &Context, out: &mut Vec<Finding>) {
        let text = &cx.file.text;
        for (start, _) in text.match_indices("arn:aws") {
            let Some(arn) = suffixed_arn(&text[start..]) else {
                continue;
            };
            let name_end = start + arn.name_end;
            let suffix_start = name_end - 7;
            let message = format!(
                "secret ARN `{}` pins the random suffix `{}`, so it breaks when the secret is re-created",
                &text[start..name_end],
                &text[suffix_start + 1..name_end]
            );
            let help = format!(
                "reference the secret by name (`{}`) and resolve its ARN at deploy time",
                &text[start + arn.name_start..suffix_start]
            );
            out.push(
                Finding::at(
                    self.id(),
                    Severity::Error,
                    cx.file,
                    start,
                    name_end,
                    message,
                )
                .with_help(help),
            );
        }
    }
}

/// Byte offsets, relative to the ARN's start, of the secret name and of
/// the end of its suffix.
struct SuffixedArn {
    name_start: usize,
    name_end: usize,
}

/// Matches `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`
/// where the name ends with `-` and six letters or digits, at least one of
/// them an upper-case letter or a digit. AWS draws the suffix from upper
/// and lower case letters and digits. Requiring one that is not lower case
/// keeps names like `app-config` from matching, at the cost of missing an
/// estimated 0.5 % of real suffixes ((26/62)^6).
fn suffixed_arn(text: &str) -> Option<SuffixedArn> {
    // An ARN is one token, so a field never spans whitespace or quotes.
    let token_end = text
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(text.len());
    let token = &text[..token_end];
    let mut fields = Vec::new();
    let mut cursor = 0;
    for _ in 0..6 {
        let end = token[cursor..].find(':')? + cursor;
        fields.push(&token[cursor..end]);
        cursor = end + 1;
    }

    let [arn, partition, service, _region, _account, kind] = fields.as_slice() else {
        return None;
    };
    if *arn != "arn"
        || !partition.starts_with("aws")
        || *service != "secretsmanager"
        || *kind != "secret"
    {
        return None;
    }

    let name_start = cursor;
    let name_len = text[name_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)))
        .unwrap_or(text.len() - name_start);
    let name = &text[name_start..name_start + name_len];
    let bytes = name.as_bytes();
    if bytes.len() < 8 || bytes[bytes.len() - 7] != b'-' {
        return None;
    }

    let suffix = &name[name.len() - 6..];
    let all_alnum = suffix.chars().all(|c| c.is_ascii_alphanumeric());
    let has_upper_or_digit = suffix
        .chars()
        .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !all_alnum || !has_upper_or_digit {
        return None;
    }
    Some(SuffixedArn {
        name_start,
        name_end: name_start + name_len,
    })
}

#[cfg(test)]
mod tests {
    use super::suffixed_arn;

    #[test]
    fn arn_with_suffix_matches() {
        let arn =
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1\"";
        let found = suffixed_arn(arn);
        assert!(found.is_some());
        assert_eq!(found.map(|f| f.name_end), Some(arn.len() - 1));
    }

    #[test]
    fn arn_without_suffix_is_ignored() {
        assert!(
            suffixed_arn(
                "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key"
            )
            .is_none()
        );
        assert!(
            suffixed_arn("arn:aws:secretsmanager:eu-central-1:123456789012:secret:app-config")
                .is_none()
        );
    }

    #[test]
    fn arn_with_json_key_matches() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC123:password::";
        assert_eq!(suffixed_arn(arn).map(|f| f.name_end), Some(arn.len() - 11));
    }
}
