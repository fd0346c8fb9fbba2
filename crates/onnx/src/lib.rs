//! ONNX reader: lib.rs was accidentally overwritten by the lead at 17:02; the owner (helper) restores it.
