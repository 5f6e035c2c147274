//! Finding one identifier inside one string at identifier boundaries.
//!
//! Every search works on an ASCII-lowercased copy of the value. ASCII
//! lowercasing keeps every byte offset, so a span found in the copy is the
//! same span in the original value.

use std::ops::Range;

use super::IdentifierKind;

/// One place where an identifier occurs in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occurrence {
    /// The bytes that matched the identifier, plus the random suffix of a
    /// secret ARN when there is one.
    pub raw: Range<usize>,
    /// The name that the occurrence belongs to: for a host, the full host
    /// name it ends (`api.afu-9.com` for `afu-9.com`), for a secret prefix
    /// the full secret name it starts, otherwise `raw`.
    pub claim: Range<usize>,
}

/// Length of the random suffix that Secrets Manager appends to a secret's
/// name in its ARN (`-Qm3xT1`), without the hyphen.
const SECRET_SUFFIX_LEN: usize = 6;

/// Characters that continue an ECS name, a DNS label or a free-form
/// identifier. ECS cluster, service and task definition family names consist
/// of letters, digits, hyphens and underscores only, so `/`, `:`, `.`, `=`
/// and spaces end them.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Characters that continue a secret name. Secrets Manager also allows
/// `+`, `=`, `@` and `.` in names, but those are treated as boundaries:
/// `--secret-id=NAME` and a sentence ending in `NAME.` must still match.
/// Treating them as boundaries can only add findings, never hide one.
fn is_secret_byte(byte: u8) -> bool {
    is_name_byte(byte) || byte == b'/'
}

/// Characters that a secret prefix claims after itself: everything that
/// can continue the secret name under the prefix, dots included.
fn is_secret_claim_byte(byte: u8) -> bool {
    is_secret_byte(byte) || byte == b'.'
}

fn is_account_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Returns true when `byte` (the neighbour of a match, or `None` at either
/// end of the value) does not continue an identifier of this kind.
fn is_boundary(kind: IdentifierKind, byte: Option<u8>) -> bool {
    let Some(byte) = byte else {
        return true;
    };
    match kind {
        IdentifierKind::SecretName | IdentifierKind::SecretPrefix => !is_secret_byte(byte),
        IdentifierKind::AccountId => !is_account_byte(byte),
        IdentifierKind::Cluster
        | IdentifierKind::Service
        | IdentifierKind::Host
        | IdentifierKind::Other => !is_name_byte(byte),
    }
}

/// Finds every occurrence of `needle` in `lowered` that starts and ends at a
/// boundary for `kind`.
///
/// `lowered` must be the ASCII-lowercased value and `needle` the
/// ASCII-lowercased identifier. An empty needle never matches.
pub(crate) fn find_occurrences(
    lowered: &str,
    needle: &str,
    kind: IdentifierKind,
) -> Vec<Occurrence> {
    if needle.is_empty() {
        return Vec::new();
    }
    let bytes = lowered.as_bytes();
    let mut found = Vec::new();

    for (start, _) in lowered.match_indices(needle) {
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if !is_boundary(kind, before) {
            continue;
        }
        let end = start + needle.len();

        let occurrence = match kind {
            IdentifierKind::SecretPrefix => Some(Occurrence {
                raw: start..end,
                claim: start..extend_right(bytes, end, is_secret_claim_byte),
            }),
            IdentifierKind::SecretName => {
                match_secret_name_end(lowered, start, end).map(|end| Occurrence {
                    raw: start..end,
                    claim: start..end,
                })
            }
            IdentifierKind::Host => {
                is_boundary(kind, bytes.get(end).copied()).then(|| Occurrence {
                    raw: start..end,
                    claim: extend_host_left(bytes, start)..end,
                })
            }
            IdentifierKind::Cluster
            | IdentifierKind::Service
            | IdentifierKind::Other
            | IdentifierKind::AccountId => {
                is_boundary(kind, bytes.get(end).copied()).then_some(Occurrence {
                    raw: start..end,
                    claim: start..end,
                })
            }
        };
        found.extend(occurrence);
    }
    found
}

/// Returns where a secret name that matched at `start..end` really ends, or
/// `None` when the match is part of a longer secret name.
///
/// Inside a secret ARN (the name follows `secret:`) the name may carry the
/// random suffix, so `secret:afu9/prod/smoke-key-AbC123:url::` matches the
/// name `afu9/prod/smoke-key`. Outside an ARN, `afu9/prod/smoke-key-AbC123`
/// is taken to be another secret's name.
fn match_secret_name_end(lowered: &str, start: usize, end: usize) -> Option<usize> {
    let bytes = lowered.as_bytes();
    if is_boundary(IdentifierKind::SecretName, bytes.get(end).copied()) {
        return Some(end);
    }
    if !lowered[..start].ends_with("secret:") || bytes.get(end) != Some(&b'-') {
        return None;
    }
    let suffix_end = end + 1 + SECRET_SUFFIX_LEN;
    let suffix = bytes.get(end + 1..suffix_end)?;
    if !suffix.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    is_boundary(IdentifierKind::SecretName, bytes.get(suffix_end).copied()).then_some(suffix_end)
}

fn extend_right(bytes: &[u8], mut end: usize, continues: fn(u8) -> bool) -> usize {
    while end < bytes.len() && continues(bytes[end]) {
        end += 1;
    }
    end
}

/// Moves `start` left over the labels in front of a host match, so that the
/// claim of `afu-9.com` in `https://api.afu-9.com/` is `api.afu-9.com`.
fn extend_host_left(bytes: &[u8], mut start: usize) -> usize {
    while start > 0 && (is_name_byte(bytes[start - 1]) || bytes[start - 1] == b'.') {
        start -= 1;
    }
    while start < bytes.len() && bytes[start] == b'.' {
        start += 1;
    }
    start
}

/// Returns true when `inner` lies within `outer`.
pub(crate) fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Returns true when `inner` lies within `outer` and is shorter.
pub(crate) fn strictly_contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    contains(outer, inner) && outer != inner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_spans(value: &str, needle: &str, kind: IdentifierKind) -> Vec<Range<usize>> {
        find_occurrences(&value.to_ascii_lowercase(), needle, kind)
            .into_iter()
            .map(|occurrence| occurrence.raw)
            .collect()
    }

    #[test]
    fn empty_needle_never_matches() {
        assert!(raw_spans("anything", "", IdentifierKind::Other).is_empty());
    }

    #[test]
    fn host_claim_covers_subdomain_labels() {
        let found = find_occurrences("https://api.afu-9.com/x", "afu-9.com", IdentifierKind::Host);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].raw, 12..21);
        assert_eq!(found[0].claim, 8..21);
    }

    #[test]
    fn secret_suffix_only_inside_arn() {
        let needle = "afu9/prod/smoke-key";
        let in_arn = "arn:aws:secretsmanager:r:1:secret:afu9/prod/smoke-key-AbC123:k::";
        assert_eq!(
            raw_spans(in_arn, needle, IdentifierKind::SecretName).len(),
            1
        );
        let bare = "afu9/prod/smoke-key-AbC123";
        assert!(raw_spans(bare, needle, IdentifierKind::SecretName).is_empty());
    }

    #[test]
    fn secret_prefix_claims_whole_name() {
        let found = find_occurrences(
            "x=afu9/prod/db.url ok",
            "afu9/prod/",
            IdentifierKind::SecretPrefix,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].claim, 2..18);
    }
}
