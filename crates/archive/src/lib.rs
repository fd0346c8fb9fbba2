//! Bounded readers for the containers models ship in: zip, tar, and gzip/bz2/xz/zlib streams.
