//! Readers for Keras v3 .keras archives and legacy HDF5 .h5 models.
