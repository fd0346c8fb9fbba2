//! Readers for NumPy .npy arrays and .npz archives.
