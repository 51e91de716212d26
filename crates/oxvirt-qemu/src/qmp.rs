//! The QEMU Machine Protocol (QMP) client.
