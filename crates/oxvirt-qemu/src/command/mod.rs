//! The domain model as a QEMU command line.
