//! A TLS client's certificate, as the daemon reads it for its subject DN (the subject of
//! access rules and `tls_allowed_dn_list`) and validity: arbitrary bytes never panic, and a
//! DN that is read is one `tls_allowed_dn_list` globs can be matched against.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(dn) = oxvirt_tls::dn::subject_dn(data) {
        assert!(oxvirt_access::glob::matches("*", &dn), "{dn:?}");
    }
    let _ = oxvirt_tls::dn::validity(data);
    let _ = oxvirt_tls::dn::name_to_string(data);
});
