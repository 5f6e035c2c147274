//! Secrets Manager ARNs and `valueFrom` references.
//!
//! A secret's full ARN ends in a hyphen and six random characters that
//! Secrets Manager adds when the secret is created
//! (`...:secret:afu9/stage/smoke-key-Qm3xT1`). Re-creating the secret changes
//! them, which is why greenlight resolves ARNs by name at deploy time.
//!
//! ECS accepts `valueFrom` in the form
//! `arn:...:secret:NAME-SUFFIX:json-key:version-stage:version-id`, where the
//! trailing fields may be empty (`...:url::`).

use std::fmt;

/// A parsed Secrets Manager `valueFrom` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The ARN up to and including the random suffix (when present).
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The secret name and suffix as written: `afu9/stage/smoke-key-Qm3xT1`.
    pub resource: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

/// A `valueFrom` that is not a Secrets Manager ARN of a supported shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnError(pub String);

impl fmt::Display for ArnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArnError {}

impl SecretRef {
    /// Parses a Secrets Manager ARN with optional JSON key, version stage and
    /// version id.
    pub fn parse(value: &str) -> Result<SecretRef, ArnError> {
        let fields: Vec<&str> = value.split(':').collect();
        let invalid = |why: &str| {
            ArnError(format!(
                "\"{value}\" is not a Secrets Manager ARN: {why}; expected \
                 arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME[:json-key:version-stage:version-id]"
            ))
        };
        if fields.len() < 7 || fields[0] != "arn" {
            return Err(invalid("too few fields"));
        }
        if fields[2] != "secretsmanager" {
            return Err(invalid("the service is not secretsmanager"));
        }
        if fields[5] != "secret" || fields[6].is_empty() {
            return Err(invalid("the resource is not secret:NAME"));
        }
        // ECS wants either no tail or all three tail fields; one or two
        // extra fields are ambiguous and rejected by ECS at run time.
        let tail = &fields[7..];
        if !tail.is_empty() && tail.len() != 3 {
            return Err(invalid(&format!(
                "it has {} field(s) after the name; write json-key:version-stage:version-id, \
                 each possibly empty (for example NAME:url::)",
                tail.len()
            )));
        }
        let optional = |i: usize| {
            tail.get(i)
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_string())
        };
        Ok(SecretRef {
            arn: fields[..7].join(":"),
            partition: fields[1].to_string(),
            region: fields[3].to_string(),
            account: fields[4].to_string(),
            resource: fields[6].to_string(),
            json_key: optional(0),
            version_stage: optional(1),
            version_id: optional(2),
        })
    }

    /// Returns the secret name without the random suffix, when the resource
    /// carries one.
    pub fn name_without_suffix(&self) -> &str {
        strip_random_suffix(&self.resource)
    }

    /// Returns the `valueFrom` with the ARN replaced and the tail kept.
    pub fn with_arn(&self, arn: &str) -> String {
        if self.json_key.is_none() && self.version_stage.is_none() && self.version_id.is_none() {
            return arn.to_string();
        }
        format!(
            "{arn}:{}:{}:{}",
            self.json_key.as_deref().unwrap_or(""),
            self.version_stage.as_deref().unwrap_or(""),
            self.version_id.as_deref().unwrap_or("")
        )
    }
}

/// Builds a `valueFrom` for an ARN and an optional JSON key.
pub fn value_from(arn: &str, json_key: Option<&str>) -> String {
    match json_key {
        Some(key) => format!("{arn}:{key}::"),
        None => arn.to_string(),
    }
}

/// Returns true when a name ends in a hyphen and six alphanumeric
/// characters, the shape of the suffix Secrets Manager appends to ARNs.
pub fn looks_like_partial_arn(name: &str) -> bool {
    strip_random_suffix(name).len() != name.len()
}

fn strip_random_suffix(resource: &str) -> &str {
    let bytes = resource.as_bytes();
    if bytes.len() > 7 {
        let dash = bytes.len() - 7;
        if bytes[dash] == b'-' && bytes[dash + 1..].iter().all(u8::is_ascii_alphanumeric) {
            return &resource[..dash];
        }
    }
    resource
}

/// Returns true when a `valueFrom` names a Secrets Manager secret (not an
/// SSM parameter).
pub fn is_secrets_manager(value_from: &str) -> bool {
    value_from.starts_with("arn:") && value_from.split(':').nth(2) == Some("secretsmanager")
}

/// Returns the AWS partition of a region: `aws-cn` for China, `aws-us-gov`
/// for GovCloud, `aws` for the rest (the ISO partitions are not known here).
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1";

    #[test]
    fn plain_arn_parses() {
        let parsed = SecretRef::parse(ARN).expect("valid");
        assert_eq!(parsed.arn, ARN);
        assert_eq!(parsed.name_without_suffix(), "afu9/stage/smoke-key");
        assert_eq!(parsed.json_key, None);
        assert_eq!(parsed.with_arn("arn:new"), "arn:new");
    }

    #[test]
    fn json_key_form_keeps_key() {
        let parsed = SecretRef::parse(&format!("{ARN}:url::")).expect("valid");
        assert_eq!(parsed.arn, ARN);
        assert_eq!(parsed.json_key.as_deref(), Some("url"));
        assert_eq!(parsed.with_arn("arn:new"), "arn:new:url::");
    }

    #[test]
    fn trailing_segment_counts() {
        assert!(SecretRef::parse(&format!("{ARN}:url")).is_err());
        assert!(SecretRef::parse(&format!("{ARN}:url:")).is_err());
        assert!(SecretRef::parse(&format!("{ARN}:url::")).is_ok());
        assert!(SecretRef::parse(&format!("{ARN}:url:::")).is_err());
    }

    #[test]
    fn other_partitions_parse() {
        let cn = ARN.replace("arn:aws:", "arn:aws-cn:");
        assert_eq!(SecretRef::parse(&cn).expect("valid").partition, "aws-cn");
    }

    #[test]
    fn ssm_is_not_secrets_manager() {
        assert!(!is_secrets_manager(
            "arn:aws:ssm:eu-central-1:1:parameter/x"
        ));
        assert!(is_secrets_manager(ARN));
        assert!(SecretRef::parse("arn:aws:ssm:eu-central-1:1:parameter/x").is_err());
    }

    #[test]
    fn partial_arn_shape() {
        assert!(looks_like_partial_arn("afu9/stage/smoke-key-Qm3xT1"));
        assert!(!looks_like_partial_arn("afu9/stage/smoke-key"));
        assert!(!looks_like_partial_arn("-abcdef"));
    }
}
