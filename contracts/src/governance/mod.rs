//! The governance contract: proposals to add or remove organisations, certify or
//! revoke keys (admin rotation included), change validators or node keys, and change
//! contract parameters.
//!
//! A member of a regulator organisation (an active organisation holding
//! produce_regulator, market_regulator, credit_authority or data_regulator) proposes an
//! [`Action`] with an `effective_height` in the future; the proposer's organisation
//! approves by proposing, other regulator organisations approve with `approve` (the
//! transaction's signature is the approval, one per organisation).
//!
//! **Applying at a height.** Contracts cannot scan and nothing runs without a
//! transaction, so `propose` appends the proposal id to the schedule record
//! `gov/due/{height}` and the block executor calls [`begin_block`] when it starts each
//! block. At its effective height a proposal is applied if regulator organisations
//! holding more than `quorum_numerator / quorum_denominator` of the current active
//! regulators have approved; otherwise it **expires** (quorum reached later counts for
//! nothing, and approvals are refused once the height is reached). An action that is
//! no longer valid at that height (for instance a duplicate organisation) is marked
//! failed with the reason and changes nothing else. Because [`begin_block`] runs before
//! the executor reads `params`, every transaction reads the parameters in force at the
//! start of its block; the history of parameter sets is kept at `gov/params/{version}`.
//! A parameter change names the fields it changes ([`changes::ParamChange`]) and is
//! applied to the parameters in force at its height, so proposals that change
//! different fields never overwrite each other.

pub mod actions;
pub mod changes;
pub mod store;

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Uscc;
use serde::{Deserialize, Serialize};

pub use actions::{Action, REGULATOR_ROLES};
pub use changes::{FieldDiff, ParamChange, apply_changes, json_diff};
use store::{BlockStart, Scratch};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::keys;
use crate::membership::Organisation;
use crate::params::Params;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, Method, decode_payload, from_json_of, json_of};
use crate::state::StateView;

/// `gov/orgs` → `Vec<Uscc>`: every organisation ever added, in order of addition.
pub const ORGS_KEY: &[u8] = b"gov/orgs";

/// `gov/proposals` → `Vec<String>`: every proposal id, in order of proposal (the
/// node's `/v1/governance/proposals` pages it).
pub const PROPOSALS_KEY: &[u8] = b"gov/proposals";

/// `gov/proposal/{id}` → [`Proposal`].
pub fn proposal_key(id: &str) -> Vec<u8> {
    keys::with_id("gov/proposal/", id)
}

/// `gov/due/{height, 20 digits}` → `Vec<String>`: ids of proposals due at a height.
pub fn due_key(height: u64) -> Vec<u8> {
    keys::with_id("gov/due/", &format!("{height:020}"))
}

/// `gov/params/{version, 10 digits}` → [`ParamsRecord`].
pub fn params_key(version: u32) -> Vec<u8> {
    keys::with_id("gov/params/", &format!("{version:010}"))
}

/// Governance parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceParams {
    /// Quorum fraction numerator: approvals must be MORE than numerator/denominator of
    /// the active regulator organisations.
    pub quorum_numerator: u32,
    /// Quorum fraction denominator.
    pub quorum_denominator: u32,
    /// Greatest distance, in blocks, between proposal and effective height.
    pub max_proposal_lifetime_blocks: u64,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        GovernanceParams { quorum_numerator: 2, quorum_denominator: 3, max_proposal_lifetime_blocks: 100_000 }
    }
}

/// One version of the parameters, with the height it took effect.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ParamsRecord {
    /// The version.
    pub version: u32,
    /// First block height executed under it.
    pub effective_height: u64,
    /// The parameters.
    pub params: Params,
}

/// Where a proposal stands.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting approvals.
    Pending,
    /// Applied at its effective height.
    Applied,
    /// Reached quorum but the action was no longer valid at its height.
    Failed {
        /// Why.
        reason: String,
    },
    /// No quorum by its effective height.
    Expired,
    /// Withdrawn by its proposer's organisation.
    Withdrawn,
}

/// A governance proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    /// Id: the hex hash of the proposing transaction.
    pub id: String,
    /// The proposing organisation.
    pub proposer_org: Uscc,
    /// What it does.
    pub action: Action,
    /// The height at whose start it is applied.
    pub effective_height: u64,
    /// Height it was proposed at.
    pub proposed_height: u64,
    /// Approving organisations, sorted.
    pub approvals: Vec<Uscc>,
    /// Its status.
    pub status: ProposalStatus,
}

/// `governance.propose`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Propose {
    /// The action.
    pub action: Action,
    /// Height at which it takes effect (greater than the current height).
    pub effective_height: u64,
}

impl CallPayload for Propose {
    const CONTRACT: &'static str = "governance";
    const METHOD: &'static str = "propose";
}

/// `governance.approve`: the signer's organisation approves a proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Approve {
    /// The proposal id.
    pub id: String,
}

impl CallPayload for Approve {
    const CONTRACT: &'static str = "governance";
    const METHOD: &'static str = "approve";
}

/// `governance.withdraw`: the proposer's organisation withdraws a pending proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Withdraw {
    /// The proposal id.
    pub id: String,
}

impl CallPayload for Withdraw {
    const CONTRACT: &'static str = "governance";
    const METHOD: &'static str = "withdraw";
}

/// The governance contract's methods.
pub const METHODS: &[Method] = &[
    Method {
        contract: "governance",
        name: "propose",
        roles: REGULATOR_ROLES,
        summary: "propose a membership, key, validator or parameter change effective at a future height",
        run: run_propose,
        to_json: json_of::<Propose>,
        from_json: from_json_of::<Propose>,
    },
    Method {
        contract: "governance",
        name: "approve",
        roles: REGULATOR_ROLES,
        summary: "approve a pending proposal for the signer's regulator organisation",
        run: run_approve,
        to_json: json_of::<Approve>,
        from_json: from_json_of::<Approve>,
    },
    Method {
        contract: "governance",
        name: "withdraw",
        roles: REGULATOR_ROLES,
        summary: "withdraw a pending proposal of the signer's organisation",
        run: run_withdraw,
        to_json: json_of::<Withdraw>,
        from_json: from_json_of::<Withdraw>,
    },
];

/// Rule `governance.regulators_only`: the signer's organisation is an active regulator.
fn rule_regulators_only(tx: &Tx<'_>) -> Result<(), ContractError> {
    let org: Organisation = tx.require("organisation", tx.org().as_str(), &keys::org(tx.org()))?;
    if !actions::is_regulator(&org) || !REGULATOR_ROLES.iter().any(|r| tx.has_role(*r)) {
        return Err(ContractError::rule(
            "governance.regulators_only",
            format!("organisation {} is not an active regulator organisation", org.uscc),
        ));
    }
    Ok(())
}

fn tag_proposal(tx: &mut Tx<'_>, p: &Proposal) {
    tx.tag(TagKind::Proposal, p.id.clone());
    for o in p.action.orgs() {
        tx.tag(TagKind::Org, o.to_string());
    }
}

fn run_propose(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Propose = decode_payload(payload)?;
    rule_regulators_only(tx)?;
    if p.effective_height <= tx.height() {
        return Err(ContractError::rule(
            "governance.height_in_future",
            format!("effective height {} is not after the current height {}", p.effective_height, tx.height()),
        ));
    }
    let max = tx.params().governance.max_proposal_lifetime_blocks;
    if p.effective_height - tx.height() > max {
        return Err(ContractError::rule(
            "governance.max_lifetime",
            format!("effective height {} is more than {max} blocks after {}", p.effective_height, tx.height()),
        ));
    }
    match &p.action {
        Action::AddOrg { org } => {
            tx.check_text("org.name", &org.name, true)?;
            tx.check_text("org.contact", &org.contact, false)?;
            tx.check_list("org.node_keys", org.node_keys.len())?;
        }
        Action::SetNodeKeys { node_keys, .. } => tx.check_list("node_keys", node_keys.len())?,
        Action::SetParams { changes } => {
            for c in changes {
                tx.check_text("changes.field", &c.field, true)?;
                tx.check_text("changes.value", &c.value, true)?;
            }
        }
        _ => {}
    }
    // Validate the action against the current state; the scratch writes are dropped.
    let mut scratch = Scratch { tx, writes: BTreeMap::new() };
    actions::apply(&mut scratch, &p.action, p.effective_height)?;
    let id = tx.tx_hash().to_hex();
    let mut due: Vec<String> = tx.get(&due_key(p.effective_height))?.unwrap_or_default();
    due.push(id.clone());
    tx.check_list("due proposals", due.len())?;
    let proposal = Proposal {
        id: id.clone(),
        proposer_org: tx.org().clone(),
        action: p.action,
        effective_height: p.effective_height,
        proposed_height: tx.height(),
        approvals: vec![tx.org().clone()],
        status: ProposalStatus::Pending,
    };
    let mut ids: Vec<String> = tx.get(PROPOSALS_KEY)?.unwrap_or_default();
    ids.push(id.clone());
    tx.put(PROPOSALS_KEY.to_vec(), &ids);
    tx.put(due_key(p.effective_height), &due);
    tx.put(proposal_key(&id), &proposal);
    tag_proposal(tx, &proposal);
    Ok(())
}

fn require_pending(tx: &Tx<'_>, id: &str) -> Result<Proposal, ContractError> {
    let p: Proposal = tx.require("proposal", id, &proposal_key(id))?;
    if p.status != ProposalStatus::Pending {
        return Err(ContractError::rule("governance.pending_only", format!("proposal {id} is {:?}", p.status)));
    }
    Ok(p)
}

fn run_approve(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let a: Approve = decode_payload(payload)?;
    rule_regulators_only(tx)?;
    let mut p = require_pending(tx, &a.id)?;
    if p.approvals.contains(tx.org()) {
        return Err(ContractError::rule(
            "governance.one_vote_per_org",
            format!("organisation {} has already approved proposal {}", tx.org(), p.id),
        ));
    }
    p.approvals.push(tx.org().clone());
    p.approvals.sort();
    tx.put(proposal_key(&p.id), &p);
    tag_proposal(tx, &p);
    Ok(())
}

fn run_withdraw(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let w: Withdraw = decode_payload(payload)?;
    rule_regulators_only(tx)?;
    let mut p = require_pending(tx, &w.id)?;
    if &p.proposer_org != tx.org() {
        return Err(ContractError::rule(
            "governance.proposer_withdraws",
            format!("proposal {} was made by {}, not {}", p.id, p.proposer_org, tx.org()),
        ));
    }
    p.status = ProposalStatus::Withdrawn;
    tx.put(proposal_key(&p.id), &p);
    tag_proposal(tx, &p);
    Ok(())
}

/// Rule `governance.quorum_required`: approvals from active regulator organisations
/// number more than numerator/denominator of those organisations.
pub fn has_quorum(approvals: &[Uscc], regulators: &[Uscc], g: &GovernanceParams) -> bool {
    let yes = approvals.iter().filter(|a| regulators.contains(a)).count() as u128;
    let total = regulators.len() as u128;
    total > 0 && yes * u128::from(g.quorum_denominator) > total * u128::from(g.quorum_numerator)
}

/// The block-start hook, called by [`crate::executor::BlockExecutor::new`]: decides
/// every proposal due at `height` (applied, failed or expired) in schedule order and
/// adds the writes to the block's `writes`. Errors only on storage or corrupt state.
pub fn begin_block(
    base: &dyn StateView,
    writes: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    height: u64,
) -> Result<(), ContractError> {
    let start = BlockStart { base, writes, pending: BTreeMap::new() };
    let Some(due) = store::get::<Vec<String>>(&start, &due_key(height))? else {
        return Ok(());
    };
    for id in due {
        let mut view = BlockStart { base, writes, pending: BTreeMap::new() };
        let Some(mut p) = store::get::<Proposal>(&view, &proposal_key(&id))? else {
            continue;
        };
        if p.status != ProposalStatus::Pending {
            continue;
        }
        let params: Params = store::get(&view, keys::PARAMS)?.unwrap_or_default();
        let regs = actions::regulators(&view)?;
        let mut pending = BTreeMap::new();
        if !has_quorum(&p.approvals, &regs, &params.governance) {
            p.status = ProposalStatus::Expired;
        } else {
            match actions::apply(&mut view, &p.action, height) {
                Ok(()) => {
                    p.status = ProposalStatus::Applied;
                    pending = view.pending;
                }
                Err(ContractError::Storage(e)) => return Err(ContractError::Storage(e)),
                Err(e) => p.status = ProposalStatus::Failed { reason: format!("{}: {e}", e.code()) },
            }
        }
        for (k, v) in pending {
            writes.insert(k, Some(v));
        }
        writes.insert(proposal_key(&id), Some(jialing_core::encoding::encode(&p)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(n: usize) -> Vec<Uscc> {
        (0..n).filter_map(|i| Uscc::complete(&format!("91500230MA{:07}", 3000 + i)).ok()).collect()
    }

    #[test]
    fn governance_quorum_is_more_than_the_fraction() {
        let g = GovernanceParams::default();
        let regs = orgs(4);
        assert!(has_quorum(&regs[..3], &regs, &g));
        assert!(!has_quorum(&regs[..2], &regs, &g));
        let three = orgs(3);
        assert!(!has_quorum(&three[..2], &three, &g), "exactly two thirds is not more than two thirds");
        assert!(has_quorum(&three, &three, &g));
        // Approvals from organisations that are no longer regulators do not count.
        assert!(!has_quorum(&orgs(6)[3..], &three, &g));
        assert!(!has_quorum(&[], &[], &g));
    }
}
