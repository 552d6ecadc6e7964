//! Jialing's types as Malachite sees them: the consensus [`Ctx`], its height, address,
//! value, vote, proposal, proposal part and validator set, and the ed25519 signer and
//! verifier.
//!
//! Every signature the engine makes or checks is a `jialing-core` signature over
//! `jialing/sig/v1 ‖ chain ‖ purpose ‖ digest`. A Malachite precommit is signed as the
//! core [`jialing_core::Vote`], so the commit certificate the engine assembles is, byte
//! for byte, the [`jialing_core::CommitCertificate`] that is stored with the block and
//! that light clients and auditors check.

use std::fmt;

use async_trait::async_trait;
use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Keypair, PublicKey, Signature, VoteKind, crypto::Purpose, sha256};
use malachitebft_core_types::{
    self as mc, NilOrVal, Round, SignedExtension, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_engine::util::streaming::StreamMessage;
use malachitebft_signing::{Error as SigningError, Signer, VerificationResult, Verifier};

/// A block height.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, std::hash::Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its ed25519 consensus public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, std::hash::Hash, BorshSerialize, BorshDeserialize)]
pub struct Address(pub PublicKey);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.short())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0.short())
    }
}

impl mc::Address for Address {}

/// The value consensus decides on: the hash of a block header. The block itself travels
/// as proposal parts and in sync responses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, std::hash::Hash, BorshSerialize, BorshDeserialize)]
pub struct BlockId(pub Hash);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.0.to_string();
        write!(f, "{}", &hex[..hex.len().min(12)])
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({self})")
    }
}

impl mc::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// The ed25519 signing scheme of `jialing-core`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mc::SigningScheme for Ed25519 {
    type DecodingError = String;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = [u8; 32];

    fn decode_signature(bytes: &[u8]) -> Result<Signature, String> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| format!("a signature is 64 bytes, got {}", bytes.len()))?;
        Ok(Signature(arr))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, String> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| format!("a public key is 32 bytes, got {}", bytes.len()))?;
        Ok(PublicKey(arr))
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

fn round_u32(r: Round) -> u32 {
    r.as_u32().unwrap_or(u32::MAX)
}

/// A prevote or precommit. Vote extensions are not used (always `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusVote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// The voter.
    pub validator: Address,
}

impl ConsensusVote {
    /// The core vote whose digest is signed.
    pub fn to_core(&self) -> jialing_core::Vote {
        jialing_core::Vote {
            kind: match self.kind {
                VoteType::Prevote => VoteKind::Prevote,
                VoteType::Precommit => VoteKind::Precommit,
            },
            height: self.height.0,
            round: round_u32(self.round),
            block_hash: match self.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id.0),
            },
            validator: self.validator.0,
        }
    }
}

impl BorshSerialize for ConsensusVote {
    fn serialize<W: borsh::io::Write>(&self, w: &mut W) -> borsh::io::Result<()> {
        self.to_core().serialize(w)
    }
}

impl BorshDeserialize for ConsensusVote {
    fn deserialize_reader<R: borsh::io::Read>(r: &mut R) -> borsh::io::Result<Self> {
        let v = jialing_core::Vote::deserialize_reader(r)?;
        Ok(ConsensusVote {
            kind: match v.kind {
                VoteKind::Prevote => VoteType::Prevote,
                VoteKind::Precommit => VoteType::Precommit,
            },
            height: Height(v.height),
            round: Round::new(v.round),
            value: match v.block_hash {
                None => NilOrVal::Nil,
                Some(h) => NilOrVal::Val(BlockId(h)),
            },
            validator: Address(v.validator),
        })
    }
}

impl mc::Vote<Ctx> for ConsensusVote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<Ctx>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<Ctx>> {
        None
    }

    fn extend(self, _extension: SignedExtension<Ctx>) -> Self {
        self
    }
}

/// A signed proposal message: "at this height and round, `proposer` proposes block
/// `value`".
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ConsensusProposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// Proof-of-lock round (nil when the value is new).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl ConsensusProposal {
    /// The digest that is signed under [`Purpose::Proposal`].
    pub fn digest(&self) -> Hash {
        sha256(&jialing_core::encoding::encode(&(
            self.height.0,
            self.round.as_i64(),
            self.value.0,
            self.pol_round.as_i64(),
            self.proposer.0,
        )))
    }
}

impl mc::Proposal<Ctx> for ConsensusProposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// One piece of a streamed block proposal: `Init`, then `Data` chunks of the
/// borsh-encoded block, then `Fin` with the proposer's signature over all of it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    /// Opens the stream.
    Init {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Proof-of-lock round (-1 for none).
        pol_round: i64,
        /// The proposer.
        proposer: PublicKey,
    },
    /// A chunk of the encoded block.
    Data(Vec<u8>),
    /// Closes the stream: the proposer's signature over [`parts_digest`].
    Fin {
        /// Signature under [`Purpose::ProposalPart`].
        signature: Signature,
    },
}

/// What the proposer signs in [`ProposalPart::Fin`]: height, round, proof-of-lock round,
/// proposer and the SHA-256 of the concatenated data chunks.
pub fn parts_digest(height: u64, round: u32, pol_round: i64, proposer: &PublicKey, data_hash: &Hash) -> Hash {
    sha256(&jialing_core::encoding::encode(&(height, round, pol_round, *proposer, *data_hash)))
}

impl mc::ProposalPart<Ctx> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin { .. })
    }
}

/// A validator as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Address (the public key).
    pub address: Address,
    /// Public key.
    pub public_key: PublicKey,
    /// Voting power.
    pub power: u64,
}

impl mc::Validator<Ctx> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The validator set, sorted by key (the order of [`jialing_core::ValidatorSet`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Vec<Validator>,
}

impl From<&jialing_core::ValidatorSet> for ValidatorSet {
    fn from(set: &jialing_core::ValidatorSet) -> Self {
        ValidatorSet {
            validators: set
                .validators
                .iter()
                .map(|v| Validator { address: Address(v.public_key), public_key: v.public_key, power: v.power })
                .collect(),
        }
    }
}

impl mc::ValidatorSet<Ctx> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).fold(0, u64::saturating_add)
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.binary_search_by(|v| v.address.cmp(address)).ok().map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The proposer [`Ctx`] selects for `height` and `round` (round robin over the set in key
/// order, shifted by height); `None` for an empty set.
pub fn scheduled_proposer(set: &ValidatorSet, height: u64, round: u32) -> Option<&Validator> {
    let n = set.validators.len() as u64;
    if n == 0 {
        return None;
    }
    set.validators.get((height.wrapping_add(u64::from(round)) % n) as usize)
}

/// The consensus context of one chain.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The chain id that every signature binds.
    pub chain_id: String,
}

impl mc::Context for Ctx {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = ConsensusProposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mc::LinearTimeouts;
    type Value = BlockId;
    type Vote = ConsensusVote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round robin over the set in key order, shifted by height, so every validator
    /// proposes in turn and a crashed proposer costs one round.
    fn select_proposer<'a>(&self, set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        let n = set.validators.len().max(1) as u64;
        let r = round.as_u32().unwrap_or(0) as u64;
        let i = (height.0.wrapping_add(r) % n) as usize;
        &set.validators[i.min(set.validators.len().saturating_sub(1))]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> ConsensusProposal {
        ConsensusProposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(&self, height: Height, round: Round, value: NilOrVal<BlockId>, address: Address) -> ConsensusVote {
        ConsensusVote { kind: VoteType::Prevote, height, round, value, validator: address }
    }

    fn new_precommit(&self, height: Height, round: Round, value: NilOrVal<BlockId>, address: Address) -> ConsensusVote {
        ConsensusVote { kind: VoteType::Precommit, height, round, value, validator: address }
    }
}

/// A streamed proposal part as sent on the wire.
pub type PartMessage = StreamMessage<ProposalPart>;

fn proof_digest(public_key: &[u8], peer_id: &[u8]) -> Hash {
    sha256(&ValidatorProof::<Ctx>::signing_bytes(public_key, peer_id))
}

/// Signs votes, proposals and the validator proof with this validator's key.
pub struct ConsensusSigner {
    chain_id: String,
    key: Keypair,
}

impl ConsensusSigner {
    /// A signer for `chain_id` with `key`.
    pub fn new(chain_id: String, key: Keypair) -> Self {
        ConsensusSigner { chain_id, key }
    }
}

#[async_trait]
impl Signer<Ctx> for ConsensusSigner {
    async fn sign_vote(&self, vote: ConsensusVote) -> Result<SignedMessage<Ctx, ConsensusVote>, SigningError> {
        let signature = self.key.sign(&self.chain_id, Purpose::Vote, &vote.to_core().digest());
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: ConsensusProposal,
    ) -> Result<SignedMessage<Ctx, ConsensusProposal>, SigningError> {
        let signature = self.key.sign(&self.chain_id, Purpose::Proposal, &proposal.digest());
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<Ctx>,
        extension: (),
    ) -> Result<SignedMessage<Ctx, ()>, SigningError> {
        // Extensions are disabled; sign nothing meaningful but keep the type total.
        let signature = self.key.sign(&self.chain_id, Purpose::Vote, &Hash::ZERO);
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<Ctx>, SigningError> {
        let signature = self.key.sign(&self.chain_id, Purpose::PeerBinding, &proof_digest(&public_key, &peer_id));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks signatures against the sender's public key.
pub struct ConsensusVerifier {
    chain_id: String,
}

impl ConsensusVerifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: String) -> Self {
        ConsensusVerifier { chain_id }
    }

    fn check(&self, key: &PublicKey, purpose: Purpose, digest: &Hash, sig: &Signature) -> VerificationResult {
        VerificationResult::from_bool(key.verify(&self.chain_id, purpose, digest, sig).is_ok())
    }
}

#[async_trait]
impl Verifier<Ctx> for ConsensusVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &ConsensusVote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(self.check(public_key, Purpose::Vote, &vote.to_core().digest(), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &ConsensusProposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(self.check(public_key, Purpose::Proposal, &proposal.digest(), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<Ctx>,
        _extension: &(),
        _signature: &Signature,
        _public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        // Vote extensions are disabled on this chain: never accept one.
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(&self, proof: &ValidatorProof<Ctx>) -> Result<VerificationResult, SigningError> {
        let Ok(key) = <Ed25519 as mc::SigningScheme>::decode_public_key(&proof.public_key) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(self.check(&key, Purpose::PeerBinding, &proof_digest(&proof.public_key, &proof.peer_id), &proof.signature))
    }
}
