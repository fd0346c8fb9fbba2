//! Print what the reader sees in an HDF5 file (a debugging aid).
//!
//! ```text
//! cargo run -p modelgate-hdf5 --example h5tree -- model.h5
//! ```
#![allow(clippy::unwrap_used)]

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        match modelgate_hdf5::File::parse(&bytes, &Default::default()) {
            Ok(file) => {
                println!("{path}: superblock v{}", file.superblock.version);
                for group in &file.groups {
                    println!(
                        "  group /{} {:?} {} links",
                        group.path, group.storage, group.n_links
                    );
                    for a in &group.attributes {
                        println!("    @{} {} {:?}", a.name, a.datatype.numpy_str(), a.value);
                    }
                }
                for d in &file.datasets {
                    println!(
                        "  dataset /{} {:?} {} {:?} filters {:?}",
                        d.path,
                        d.shape(),
                        d.datatype.numpy_str(),
                        d.layout,
                        d.filters.iter().map(|f| f.id).collect::<Vec<_>>()
                    );
                    for a in &d.attributes {
                        println!("    @{} {} {:?}", a.name, a.datatype.numpy_str(), a.value);
                    }
                }
                for l in &file.links {
                    println!("  link /{} {:?}", l.path, l.target);
                }
            }
            Err(error) => println!("{path}: error: {error}"),
        }
    }
}
