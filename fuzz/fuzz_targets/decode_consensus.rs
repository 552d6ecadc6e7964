//! Consensus, sync and proposal-stream messages arrive from peers: decoding them must
//! never panic, and the proposal reassembly buffer must drop garbage cleanly.
#![no_main]
use bytes::Bytes;
use jialing_core::Keypair;
use jialing_node::consensus::codec::WireCodec;
use jialing_node::consensus::context::{Address, Ctx, PartMessage, ProposalPart, Validator, ValidatorSet};
use jialing_node::consensus::parts::{PartsBuffer, Schedule};
use libfuzzer_sys::fuzz_target;
use malachitebft_app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app::types::codec::Codec;
use malachitebft_app::types::sync;

fuzz_target!(|data: &[u8]| {
    let c = WireCodec;
    let b = Bytes::copy_from_slice(data);
    let _ = Codec::<SignedConsensusMsg<Ctx>>::decode(&c, b.clone());
    let _ = Codec::<LivenessMsg<Ctx>>::decode(&c, b.clone());
    let _ = Codec::<ProposedValue<Ctx>>::decode(&c, b.clone());
    let _ = Codec::<ProposalPart>::decode(&c, b.clone());
    let _ = Codec::<sync::Status<Ctx>>::decode(&c, b.clone());
    let _ = Codec::<sync::Request<Ctx>>::decode(&c, b.clone());
    let _ = Codec::<sync::Response<Ctx>>::decode(&c, b.clone());
    if let Ok(m) = Codec::<PartMessage>::decode(&c, b) {
        // One validator, scheduled for every height and round: garbage gets as far into
        // the reassembler as it can.
        let key = Keypair::from_label("fuzz/validator").public();
        let validators =
            ValidatorSet { validators: vec![Validator { address: Address(key), public_key: key, power: 1 }] };
        let schedule = Schedule { height: 1, round: 0, validators };
        let mut buf = PartsBuffer::new("jialing-fuzz".into(), 1 << 20, 4, 8);
        let _ = buf.insert(b"peer", m, &schedule);
    }
});
