//! The `dir` backend: volumes as files in one directory, nothing outside it touched.
