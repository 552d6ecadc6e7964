//! Parameter changes by named field, and field-by-field differences.
//!
//! [`super::Action::SetParams`] carries a list of [`ParamChange`]s (`credit.calendar.holidays`
//! = `["2027-01-01"]`), not a whole parameter document: each is applied to the
//! parameters in force at the proposal's effective height, so two proposals that change
//! different fields both take effect and neither overwrites the other. Field paths are
//! the parameter document's JSON names joined by dots, with list positions as numbers
//! (`credit.versions.0.decision_working_days`).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ContractError;
use crate::params::Params;

/// Most changes in one proposal.
pub const MAX_CHANGES: usize = 64;

/// One named field's new value.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ParamChange {
    /// Dotted path of the field (`block.max_txs`, `credit.grading.scale`).
    pub field: String,
    /// The new value as JSON text (`20000`, `["A","B","C"]`, `"decision"`).
    pub value: String,
}

/// One field that differs between two documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Dotted path.
    pub field: String,
    /// Value before (`null` if absent).
    pub before: Value,
    /// Value after (`null` if absent).
    pub after: Value,
}

fn known(detail: String) -> ContractError {
    ContractError::rule("governance.param_field_known", detail)
}

fn slot<'v>(root: &'v mut Value, path: &str) -> Result<&'v mut Value, ContractError> {
    let mut at = root;
    for seg in path.split('.') {
        at = match at {
            Value::Object(m) => m.get_mut(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| known(format!("parameter field {path:?} does not exist (at {seg:?})")))?;
    }
    Ok(at)
}

/// `current` with `changes` applied. Rules `governance.param_field_known` (every field
/// exists, none twice, `version` is not set by hand) and `governance.params_valid` (each
/// value has the field's type, and the result passes
/// [`super::actions::rule_params_valid`]).
pub fn apply_changes(current: &Params, changes: &[ParamChange]) -> Result<Params, ContractError> {
    if changes.is_empty() || changes.len() > MAX_CHANGES {
        return Err(ContractError::InvalidArgument {
            field: "changes",
            reason: format!("a parameter proposal changes 1 to {MAX_CHANGES} fields; it has {}", changes.len()),
        });
    }
    let mut doc = serde_json::to_value(current)
        .map_err(|e| ContractError::rule("governance.params_valid", format!("parameters do not encode: {e}")))?;
    for (i, c) in changes.iter().enumerate() {
        if c.field == "version" {
            return Err(known("the parameter version is set when a change is applied, not by hand".into()));
        }
        if changes[..i].iter().any(|p| p.field == c.field) {
            return Err(known(format!("field {:?} is changed twice in one proposal", c.field)));
        }
        let v: Value = serde_json::from_str(&c.value).map_err(|e| {
            ContractError::rule("governance.params_valid", format!("{}: {:?} is not JSON: {e}", c.field, c.value))
        })?;
        *slot(&mut doc, &c.field)? = v;
    }
    let next: Params = serde_json::from_value(doc).map_err(|e| {
        ContractError::rule("governance.params_valid", format!("the changed parameters do not fit: {e}"))
    })?;
    super::actions::rule_params_valid(&next)?;
    Ok(next)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                flatten(&join(k), x, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&join(&i.to_string()), x, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

/// The fields that differ between two JSON documents, by dotted path, in path order
/// (lists of scalars compare as one field; lists of objects element by element).
pub fn json_diff(before: &Value, after: &Value) -> Vec<FieldDiff> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let a: std::collections::BTreeMap<String, Value> = a.into_iter().collect();
    let b: std::collections::BTreeMap<String, Value> = b.into_iter().collect();
    let mut fields: Vec<&String> = a.keys().chain(b.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| a.get(*f) != b.get(*f))
        .map(|f| FieldDiff {
            field: f.clone(),
            before: a.get(f).cloned().unwrap_or(Value::Null),
            after: b.get(f).cloned().unwrap_or(Value::Null),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(field: &str, value: &str) -> ParamChange {
        ParamChange { field: field.into(), value: value.into() }
    }

    #[test]
    fn governance_param_field_known() {
        let p = Params::default();
        let next = apply_changes(&p, &[ch("block.max_txs", "500"), ch("credit.grading.scale", r#"["A","B","C","D"]"#)])
            .unwrap();
        assert_eq!(next.block.max_txs, 500);
        let d = json_diff(&serde_json::to_value(&p).unwrap(), &serde_json::to_value(&next).unwrap());
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].field.as_str(), d[0].after.clone()), ("block.max_txs", serde_json::json!(500)));
        let code = |c: &[ParamChange]| apply_changes(&p, c).unwrap_err().code();
        assert_eq!(code(&[ch("block.max_tx", "5")]), "governance.param_field_known");
        assert_eq!(code(&[ch("credit.versions.3.version", "5")]), "governance.param_field_known");
        assert_eq!(code(&[ch("version", "5")]), "governance.param_field_known");
        assert_eq!(code(&[ch("block.max_txs", "5"), ch("block.max_txs", "6")]), "governance.param_field_known");
        assert_eq!(code(&[ch("block.max_txs", "\"many\"")]), "governance.params_valid");
        assert_eq!(code(&[ch("block.max_txs", "0")]), "governance.params_valid");
        assert_eq!(code(&[ch("block.max_txs", "{")]), "governance.params_valid");
        assert_eq!(code(&[]), "invalid_argument");
        let v = apply_changes(&p, &[ch("credit.versions.0.decision_working_days", "5")]).unwrap();
        assert_eq!(v.credit.versions[0].decision_working_days, 5);
    }
}
