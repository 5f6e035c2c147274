//! Turning a JSON document, such as a rendered task definition, into the
//! list of strings that the guard checks.

use serde_json::Value;

use super::check::Observed;

/// Suffix of the location of an object key, as opposed to its value.
pub const KEY_SUFFIX: &str = " (key)";

/// Collects every string in `value` with its JSON path.
///
/// Paths start with `root` (which may be empty) and continue with `.name`
/// for members, `["name"]` for members whose name is not a plain
/// identifier, and `[index]` for array elements:
/// `containerDefinitions[0].logConfiguration.options["awslogs-group"]`.
/// A string at the root itself gets `root`, or `$` when `root` is empty.
///
/// Object keys are collected too, with the member's path followed by
/// [`KEY_SUFFIX`], because maps such as `dockerLabels` and log options carry
/// user-chosen keys that ECS sends on. Numbers, booleans and nulls are left
/// out: no task definition field carries a name or host as a number.
pub fn collect_json_strings(value: &Value, root: &str) -> Vec<Observed> {
    let mut collected = Vec::new();
    let mut path = root.to_string();
    collect_into(value, &mut path, &mut collected);
    collected
}

fn collect_into(value: &Value, path: &mut String, collected: &mut Vec<Observed>) {
    match value {
        Value::String(text) => collected.push(Observed {
            value: text.clone(),
            location: if path.is_empty() {
                "$".to_string()
            } else {
                path.clone()
            },
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let length = path.len();
                path.push_str(&format!("[{index}]"));
                collect_into(item, path, collected);
                path.truncate(length);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let length = path.len();
                push_member(path, key);
                collected.push(Observed {
                    value: key.clone(),
                    location: format!("{path}{KEY_SUFFIX}"),
                });
                collect_into(member, path, collected);
                path.truncate(length);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn push_member(path: &mut String, key: &str) {
    if is_plain_identifier(key) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        // A JSON string literal is unambiguous for any key.
        let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
        path.push('[');
        path.push_str(&quoted);
        path.push(']');
    }
}

fn is_plain_identifier(key: &str) -> bool {
    let mut bytes = key.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}
