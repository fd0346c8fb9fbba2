#![no_main]
//! The HDF5 structure reader on arbitrary bytes, with checksums verified
//! (as in production) and skipped (so mutations reach deeper structures),
//! under small limits so each input stays fast.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for verify_checksums in [false, true] {
        let limits = modelgate_hdf5::Limits {
            max_objects: 1_000,
            max_bytes: 16 << 20,
            verify_checksums,
            ..Default::default()
        };
        match modelgate_hdf5::File::parse(data, &limits) {
            Ok(file) => {
                for dataset in &file.datasets {
                    let _ = (dataset.n_bytes(), dataset.datatype.numpy_str());
                }
                let _ = file.attributes().count();
            }
            Err(error) => {
                let _ = (error.offset(), error.to_string());
            }
        }
    }
});
