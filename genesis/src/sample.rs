//! The sample consortium of Fengdu county (丰都县, division code 500230): four bureaus
//! that validate, the regional data exchange, farms, a processor, a laboratory, a
//! carrier, a supermarket, two data companies and the audit office.
//!
//! Its keys are derived from public labels (`sample/<org>/<admin|op|validator|node>`):
//! they are public knowledge and only for local demo networks.

use std::path::Path;

use jialing_core::{Keypair, Role, Uscc};

use crate::error::GenesisError;
use crate::file::{Genesis, MemberEntry, OrgEntry, ValidatorEntry};

/// The embedded sample genesis file.
pub const SAMPLE_TOML: &str = include_str!("../sample/consortium.toml");

/// One organisation of the sample: short name, 17-character USCC prefix, name, roles,
/// whether it validates, contact.
pub struct SampleOrg {
    /// Short name used in key labels and file names.
    pub short: &'static str,
    /// First 17 characters of its USCC (the check character is computed).
    pub uscc17: &'static str,
    /// Registered name (Chinese, with English).
    pub name: &'static str,
    /// Roles.
    pub roles: &'static [Role],
    /// Whether it runs a validator.
    pub validator: bool,
    /// Public contact.
    pub contact: &'static str,
}

/// The sample organisations.
pub const SAMPLE_ORGS: &[SampleOrg] = &[
    SampleOrg {
        short: "agri",
        uscc17: "11500230MB1520001",
        name: "丰都县农业农村委员会 (Fengdu County Agriculture and Rural Affairs Commission)",
        roles: &[Role::ProduceRegulator],
        validator: true,
        contact: "023-70000001",
    },
    SampleOrg {
        short: "market",
        uscc17: "11500230MB1520002",
        name: "丰都县市场监督管理局 (Fengdu County Market Supervision Bureau)",
        roles: &[Role::MarketRegulator],
        validator: true,
        contact: "023-70000002",
    },
    SampleOrg {
        short: "credit",
        uscc17: "11500230MB1520003",
        name: "丰都县发展和改革委员会信用办 (Fengdu County Development and Reform Commission, Credit Office)",
        roles: &[Role::CreditAuthority],
        validator: true,
        contact: "023-70000003",
    },
    SampleOrg {
        short: "bigdata",
        uscc17: "11500230MB1520004",
        name: "丰都县大数据发展局 (Fengdu County Big Data Development Bureau)",
        roles: &[Role::DataRegulator],
        validator: true,
        contact: "023-70000004",
    },
    SampleOrg {
        short: "exchange",
        uscc17: "91500000MA5U00001",
        name: "西部数据交易中心 (Western Data Exchange)",
        roles: &[Role::Exchange],
        validator: false,
        contact: "023-60000000",
    },
    SampleOrg {
        short: "pomelo",
        uscc17: "93500230MA5U10001",
        name: "丰都县红心柚专业合作社 (Fengdu Red-Heart Pomelo Cooperative)",
        roles: &[Role::Producer],
        validator: false,
        contact: "138-0000-0001",
    },
    SampleOrg {
        short: "cattle",
        uscc17: "91500230MA5U10002",
        name: "丰都县肉牛养殖场 (Fengdu Beef Cattle Farm)",
        roles: &[Role::Producer],
        validator: false,
        contact: "138-0000-0002",
    },
    SampleOrg {
        short: "fish",
        uscc17: "91500230MA5U10003",
        name: "丰都县冷水鱼养殖场 (Fengdu Cold-Water Fish Farm)",
        roles: &[Role::Producer],
        validator: false,
        contact: "138-0000-0003",
    },
    SampleOrg {
        short: "zhacai",
        uscc17: "91500230MA5U10004",
        name: "丰都县榨菜加工厂 (Fengdu Mustard-Tuber Processing Plant)",
        roles: &[Role::Processor, Role::Producer],
        validator: false,
        contact: "138-0000-0004",
    },
    SampleOrg {
        short: "lab",
        uscc17: "12500230MB1520005",
        name: "丰都县农产品质量检测中心 (Fengdu Accredited Agricultural Testing Laboratory)",
        roles: &[Role::Inspector],
        validator: false,
        contact: "023-70000005",
    },
    SampleOrg {
        short: "logistics",
        uscc17: "91500230MA5U10005",
        name: "丰都县冷链物流有限公司 (Fengdu Cold-Chain Logistics Co.)",
        roles: &[Role::Logistics],
        validator: false,
        contact: "138-0000-0005",
    },
    SampleOrg {
        short: "market-shop",
        uscc17: "91500230MA5U10006",
        name: "丰都县惠民超市 (Fengdu Huimin Supermarket)",
        roles: &[Role::Retailer],
        validator: false,
        contact: "138-0000-0006",
    },
    SampleOrg {
        short: "dataco",
        uscc17: "91500000MA5U20001",
        name: "重庆数联科技有限公司 (Chongqing Shulian Data Technology Co., data provider)",
        roles: &[Role::DataProvider],
        validator: false,
        contact: "023-61000001",
    },
    SampleOrg {
        short: "buyer",
        uscc17: "91500000MA5U20002",
        name: "重庆智农分析有限公司 (Chongqing Zhinong Analytics Co., data buyer)",
        roles: &[Role::DataBuyer],
        validator: false,
        contact: "023-61000002",
    },
    SampleOrg {
        short: "audit",
        uscc17: "11500230MB1520006",
        name: "丰都县审计局 (Fengdu County Audit Office)",
        roles: &[Role::Auditor],
        validator: false,
        contact: "023-70000006",
    },
    SampleOrg {
        short: "bank",
        uscc17: "91500230MA5U30001",
        name: "丰都县农村商业银行 (Fengdu Rural Commercial Bank: buys data for credit scoring, lends against data asset vouchers)",
        roles: &[Role::DataBuyer],
        validator: false,
        contact: "023-70000008",
    },
];

/// A sample key: `which` is `admin`, `op` (operator), `validator` or `node`.
pub fn sample_key(short: &str, which: &str) -> Keypair {
    Keypair::from_label(&format!("sample/{short}/{which}"))
}

/// The sample organisation with this short name.
pub fn sample_org(short: &str) -> Option<&'static SampleOrg> {
    SAMPLE_ORGS.iter().find(|o| o.short == short)
}

/// The sample's USCC for a short name.
pub fn sample_uscc(short: &str) -> Result<Uscc, GenesisError> {
    let o = sample_org(short).ok_or_else(|| GenesisError::Field {
        field: "sample".into(),
        reason: format!("no sample organisation {short:?}"),
    })?;
    Uscc::complete(o.uscc17).map_err(|e| GenesisError::Field { field: "sample".into(), reason: e.to_string() })
}

/// Builds the sample genesis from [`SAMPLE_ORGS`] and the derived keys.
pub fn sample_genesis() -> Result<Genesis, GenesisError> {
    let mut organisations = Vec::new();
    for o in SAMPLE_ORGS {
        organisations.push(OrgEntry {
            uscc: sample_uscc(o.short)?,
            name: o.name.into(),
            roles: o.roles.to_vec(),
            admin_key: sample_key(o.short, "admin").public(),
            contact: o.contact.into(),
            node_keys: if o.validator || o.short == "exchange" {
                vec![sample_key(o.short, "node").public()]
            } else {
                vec![]
            },
            validator: o.validator.then(|| ValidatorEntry { key: sample_key(o.short, "validator").public(), power: 1 }),
            members: vec![MemberEntry {
                key: sample_key(o.short, "op").public(),
                roles: o.roles.to_vec(),
                expires: None,
            }],
        });
    }
    Ok(Genesis {
        chain_id: "jialing-fengdu-sample".into(),
        genesis_time: "2026-11-01T00:00:00Z".into(),
        organisations,
        params: Default::default(),
    })
}

/// The embedded sample genesis, parsed and validated.
pub fn sample() -> Genesis {
    match Genesis::parse(SAMPLE_TOML) {
        Ok(g) => g,
        // The embedded file is checked by this crate's tests; an invalid one cannot ship.
        Err(e) => unreachable_sample(e),
    }
}

#[allow(clippy::panic)]
fn unreachable_sample(e: GenesisError) -> Genesis {
    panic!("the embedded sample genesis is invalid (a build defect): {e}")
}

/// The validator keys of the sample (the four bureaus).
pub fn sample_validator_keys() -> Vec<Keypair> {
    SAMPLE_ORGS.iter().filter(|o| o.validator).map(|o| sample_key(o.short, "validator")).collect()
}

/// Writes every sample organisation's admin and operator key files under `dir`
/// (`dir/<short>/admin.json`, `dir/<short>/operator.json`); existing files are kept.
pub fn write_sample_keys(dir: &Path) -> Result<(), GenesisError> {
    for o in SAMPLE_ORGS {
        for (which, file, label) in [("admin", "admin.json", "admin"), ("op", "operator.json", "operator")] {
            let path = dir.join(o.short).join(file);
            if !path.exists() {
                crate::keyfile::write(
                    &path,
                    &sample_key(o.short, which),
                    &format!("sample {} {label} (public demo key)", o.short),
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sample_is_valid_and_matches_the_derived_keys() {
        let built = sample_genesis().unwrap();
        built.validate().unwrap();
        if std::env::var("JIALING_WRITE_SAMPLE").is_ok() {
            let header = "# The sample consortium of Fengdu county (division code 500230).\n\
                          # Generated from genesis/src/sample.rs; keys derive from public labels\n\
                          # (sample/<org>/<admin|op|validator|node>): LOCAL DEMO ONLY.\n\n";
            std::fs::write(
                concat!(env!("CARGO_MANIFEST_DIR"), "/sample/consortium.toml"),
                format!("{header}{}", built.to_toml().unwrap()),
            )
            .unwrap();
            return;
        }
        let file = Genesis::parse(SAMPLE_TOML).unwrap_or_else(|e| {
            panic!("sample/consortium.toml is invalid: {e}\nregenerate with JIALING_WRITE_SAMPLE=1 cargo test -p jialing-genesis")
        });
        assert_eq!(file.to_toml().unwrap(), built.to_toml().unwrap(), "sample/consortium.toml drifted from sample.rs");
        assert_eq!(sample_validator_keys().len(), 4);
        assert_eq!(sample().validator_set().unwrap().validators.len(), 4);
    }
}
