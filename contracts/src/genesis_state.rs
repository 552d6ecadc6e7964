//! The state at height 0, built from the consortium definition.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{CoreError, PublicKey, Role, ValidatorSet, encoding};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::membership::{Member, Organisation};
use crate::params::Params;

/// Chain-wide facts stored at `chain`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChainInfo {
    /// The chain id.
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch.
    pub genesis_time_ms: u64,
}

/// Everything the genesis state holds.
#[derive(Clone, Debug)]
pub struct InitialState {
    /// Chain facts.
    pub chain: ChainInfo,
    /// The organisations.
    pub orgs: Vec<Organisation>,
    /// Member keys certified at genesis (admins included).
    pub members: Vec<(PublicKey, Member)>,
    /// The contract parameters.
    pub params: Params,
}

impl InitialState {
    /// The validator set named by the organisations.
    pub fn validator_set(&self) -> Result<ValidatorSet, CoreError> {
        ValidatorSet::new(self.orgs.iter().filter(|o| o.active).filter_map(|o| o.validator.clone()).collect())
    }

    /// The genesis block (height 0, uncertified) with the state tree and writes it
    /// commits to: what every node stores first and every auditor replays from.
    pub fn genesis_block(
        &self,
    ) -> Result<(jialing_core::BlockHeader, jialing_core::state_tree::StateTree, crate::state::Writes), CoreError> {
        let writes = self.writes()?;
        let set = self.validator_set()?;
        let tree = jialing_core::state_tree::StateTree::new().apply(&writes);
        let header = jialing_core::BlockHeader {
            chain_id: self.chain.chain_id.clone(),
            height: 0,
            time_ms: self.chain.genesis_time_ms,
            parent_hash: jialing_core::Hash::ZERO,
            history_root: jialing_core::merkle::empty_root(),
            proposer: PublicKey([0; 32]),
            tx_root: jialing_core::merkle::empty_root(),
            tx_count: 0,
            state_root: tree.root(),
            receipts_root: jialing_core::merkle::empty_root(),
            validator_set_hash: set.hash(),
        };
        Ok((header, tree, writes))
    }

    /// The state writes of the genesis block.
    pub fn writes(&self) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>, CoreError> {
        let mut w = BTreeMap::new();
        w.insert(keys::CHAIN.to_vec(), Some(encoding::encode(&self.chain)));
        w.insert(keys::PARAMS.to_vec(), Some(encoding::encode(&self.params)));
        w.insert(keys::VALIDATORS.to_vec(), Some(encoding::encode(&self.validator_set()?)));
        let org_list: Vec<_> = self.orgs.iter().map(|o| o.uscc.clone()).collect();
        w.insert(crate::governance::ORGS_KEY.to_vec(), Some(encoding::encode(&org_list)));
        for o in &self.orgs {
            w.insert(keys::org(&o.uscc), Some(encoding::encode(o)));
            let admin = Member { org: o.uscc.clone(), roles: vec![Role::Admin], expires_ms: u64::MAX, revoked: false };
            w.insert(keys::member(&o.admin), Some(encoding::encode(&admin)));
        }
        for (k, m) in &self.members {
            w.insert(keys::member(k), Some(encoding::encode(m)));
        }
        Ok(w)
    }
}
