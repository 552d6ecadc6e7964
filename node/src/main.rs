//! `jialing-node`: the Jialing node binary (CLI being wired).

fn main() {}
