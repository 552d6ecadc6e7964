//! `jialing-node`: the Jialing node binary. Argument parsing and logging only; the work
//! is in the library.

// jemalloc keeps freed pages for reuse (decaying over seconds) where glibc's malloc
// trimmed and re-faulted them: under load a fifth of the node's CPU went to the
// kernel zeroing fresh pages for block-sized buffers.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    jialing_node::cli::main()
}
