//! Organisation identifiers and member roles.
//!
//! Organisations are identified by their Unified Social Credit Code (USCC,
//! 统一社会信用代码, GB 32100-2015): 18 characters whose last is a check character.
//! Member keys carry [`Role`]s certified by their organisation's admin.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// The 31 characters GB 32100-2015 allows (no I, O, S, V, Z).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1 to 17.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A validated Unified Social Credit Code.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Uscc(String);

impl Uscc {
    /// Parses and validates a code: 18 characters from the GB 32100-2015 set, digits
    /// in the administrative-division positions 3 to 8, and the right check character.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let bad = |reason: String| CoreError::InvalidField { field: "USCC", reason };
        let s = s.trim();
        if s.len() != 18 || !s.is_ascii() {
            return Err(bad(format!("{s:?} must be exactly 18 ASCII characters, got {}", s.chars().count())));
        }
        let bytes = s.as_bytes();
        let mut values = [0u32; 18];
        for (i, b) in bytes.iter().enumerate() {
            let Some(v) = USCC_CHARSET.iter().position(|c| c == b) else {
                return Err(bad(format!(
                    "{s:?}: character {:?} at position {} is not allowed (use 0-9 and A-Y except I, O, S, V, Z)",
                    *b as char,
                    i + 1
                )));
            };
            values[i] = v as u32;
        }
        if let Some(i) = bytes[2..8].iter().position(|b| !b.is_ascii_digit()) {
            return Err(bad(format!("{s:?}: position {} must be a digit (administrative division code)", i + 3)));
        }
        let expected = Self::check_char(&bytes[..17]).ok_or_else(|| bad(format!("{s:?}: invalid characters")))?;
        if bytes[17] != expected {
            return Err(bad(format!(
                "{s:?}: check character is {:?}, but the first 17 characters require {:?}",
                bytes[17] as char, expected as char
            )));
        }
        Ok(Uscc(s.to_string()))
    }

    /// Computes the check character for the first 17 characters of a code.
    pub fn check_char(first17: &[u8]) -> Option<u8> {
        if first17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (b, w) in first17.iter().zip(USCC_WEIGHTS) {
            sum += USCC_CHARSET.iter().position(|c| c == b)? as u32 * w;
        }
        let c = (31 - sum % 31) % 31;
        Some(USCC_CHARSET[c as usize])
    }

    /// Completes a 17-character prefix with its check character (for generators).
    pub fn complete(first17: &str) -> Result<Self, CoreError> {
        let c = Self::check_char(first17.as_bytes()).ok_or_else(|| CoreError::InvalidField {
            field: "USCC",
            reason: format!("{first17:?} is not 17 valid characters"),
        })?;
        Self::parse(&format!("{first17}{}", c as char))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", self.0)
    }
}

impl FromStr for Uscc {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

impl Serialize for Uscc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Uscc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
        Uscc::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a member key (or an organisation) may do. Serialised in snake_case.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Organisation admin: certifies and revokes its members' keys.
    Admin,
    /// Agriculture regulator (produce quality and safety): recalls, holds.
    ProduceRegulator,
    /// Market supervision (food safety, penalties).
    MarketRegulator,
    /// Credit office: records and repairs dishonesty, lists.
    CreditAuthority,
    /// Data regulator: approves important data.
    DataRegulator,
    /// Data exchange: reviews, registers, licenses, settles.
    Exchange,
    /// Farm or cooperative: creates lots.
    Producer,
    /// Processing plant: transforms lots.
    Processor,
    /// Accredited laboratory: records inspections.
    Inspector,
    /// Carrier.
    Logistics,
    /// Shop or supermarket.
    Retailer,
    /// Data provider.
    DataProvider,
    /// Data buyer.
    DataBuyer,
    /// Auditor: reads everything, writes nothing.
    Auditor,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 14] = [
        Role::Admin,
        Role::ProduceRegulator,
        Role::MarketRegulator,
        Role::CreditAuthority,
        Role::DataRegulator,
        Role::Exchange,
        Role::Producer,
        Role::Processor,
        Role::Inspector,
        Role::Logistics,
        Role::Retailer,
        Role::DataProvider,
        Role::DataBuyer,
        Role::Auditor,
    ];

    /// Whether this is a regulator role (regulators vote on governance).
    pub fn is_regulator(self) -> bool {
        matches!(self, Role::ProduceRegulator | Role::MarketRegulator | Role::CreditAuthority | Role::DataRegulator)
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ProduceRegulator => "produce_regulator",
            Role::MarketRegulator => "market_regulator",
            Role::CreditAuthority => "credit_authority",
            Role::DataRegulator => "data_regulator",
            Role::Exchange => "exchange",
            Role::Producer => "producer",
            Role::Processor => "processor",
            Role::Inspector => "inspector",
            Role::Logistics => "logistics",
            Role::Retailer => "retailer",
            Role::DataProvider => "data_provider",
            Role::DataBuyer => "data_buyer",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| CoreError::InvalidField {
            field: "role",
            reason: format!(
                "unknown role {s:?}; known roles: {}",
                Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_world_code_validates() {
        // A published example code with a correct check character.
        Uscc::parse("91350100M000100Y43").unwrap();
    }

    #[test]
    fn wrong_check_character_is_named() {
        let err = Uscc::parse("91350100M000100Y44").unwrap_err().to_string();
        assert!(err.contains("check character is '4'") && err.contains("require '3'"), "{err}");
    }

    #[test]
    fn forbidden_characters_and_lengths() {
        assert!(Uscc::parse("91350100M000100Y4").is_err());
        assert!(Uscc::parse("91350100O000100Y43").unwrap_err().to_string().contains("position 9"));
        assert!(Uscc::parse("9135A100M000100Y43").unwrap_err().to_string().contains("digit"));
    }

    #[test]
    fn complete_produces_valid_codes() {
        let c = Uscc::complete("12500230MB0000001").unwrap();
        assert_eq!(Uscc::parse(c.as_str()).unwrap(), c);
    }

    #[test]
    fn roles_round_trip_by_name() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.name()));
        }
        assert!("emperor".parse::<Role>().is_err());
    }
}
