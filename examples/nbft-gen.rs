//! `cargo run --example nbft-gen -- DIR`: write the NBFTs of the two-VM
//! boot tests (tests/common/nbft_layouts.rs) into DIR as
//! `NBFT-netboot-NAME`, with the writer of tests/common/nbft_gen.rs.
//! tests/nbft.rs checks that the committed copies are current.

#[path = "../tests/common/nbft_gen.rs"]
mod nbft_gen;
#[path = "../tests/common/nbft_layouts.rs"]
mod nbft_layouts;

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: nbft-gen DIR");
        return 2.into();
    };
    for name in nbft_layouts::NAMES {
        let Some(spec) = nbft_layouts::layout(name) else {
            continue;
        };
        let path = std::path::Path::new(&dir).join(format!("NBFT-netboot-{name}"));
        if let Err(e) = std::fs::write(&path, nbft_gen::write(&spec)) {
            eprintln!("nbft-gen: {}: {e}", path.display());
            return 1.into();
        }
        println!("{}", path.display());
    }
    0.into()
}
