//! Storage pool and volume XML (`<pool>`, `<volume>`): whatever `Pool::parse` or
//! `Volume::parse` accepts must format to a document that parses again to the same pool
//! or volume, and formats the same; the pool's define-time checks must not panic on it.
//! The first byte picks the pool type a volume is read for, unless it is `<`: then the
//! volume is read for a dir pool. The same text is also read as the `<source>` spec of
//! `find-storage-pool-sources`, whose sources must write out as a `<sources>` document.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_storage::driver::parse_source_spec;
use oxvirt_storage::model::{sources_to_xml, CapacityRule, Pool, PoolType, Volume};

fuzz_target!(|data: &[u8]| {
    // A document as it is (as the seeds from libvirt's test data are) is read for a dir
    // pool; otherwise the first byte picks the pool type.
    let (pool_type, rest) = match data.split_first() {
        None => return,
        Some((b'<', _)) => (PoolType::Dir, data),
        Some((first, rest)) => (
            PoolType::ALL[usize::from(*first) % PoolType::ALL.len()],
            rest,
        ),
    };
    let Ok(xml) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(pool) = Pool::parse(xml) {
        let _ = pool.validate();
        let text = pool.to_xml();
        let again = match Pool::parse(&text) {
            Ok(p) => p,
            Err(e) => panic!("own pool XML refused: {}\n{text}", e.message),
        };
        assert_eq!(
            again, pool,
            "parsing the written XML changed the pool\n{text}"
        );
        assert_eq!(
            again.to_xml(),
            text,
            "writing the pool again changed the XML"
        );
    }
    if let Ok(source) = parse_source_spec(xml) {
        let text = sources_to_xml(pool_type, &[source]);
        assert!(
            oxvirt_xml::parse(&text).is_ok(),
            "own <sources> XML is not XML\n{text}"
        );
    }
    if let Ok(mut vol) = Volume::parse(xml, pool_type) {
        // What libvirt does not write back: <nocow/>, and whether <allocation> was given.
        vol.target.nocow = false;
        let text = vol.to_xml();
        let mut again = match Volume::parse_with(&text, pool_type, CapacityRule::Required) {
            Ok(v) => v,
            Err(e) => panic!("own volume XML refused: {}\n{text}", e.message),
        };
        again.has_allocation = vol.has_allocation;
        assert_eq!(
            again, vol,
            "parsing the written XML changed the volume\n{text}"
        );
        assert_eq!(
            again.to_xml(),
            text,
            "writing the volume again changed the XML"
        );
    }
});
