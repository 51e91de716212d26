//! Sets of CPU (or NUMA node) numbers in libvirt's list syntax: `0-3,^2,8`.
//!
//! Parsing follows libvirt's `virBitmapParse` and formatting its `virBitmapFormat`:
//!
//! * The text is a comma-separated list of `N` (add CPU N), `N-M` (add N to M, `M >= N`) and
//!   `^N` (remove N from what the items before it added). Items apply in order.
//! * Whitespace (C `isspace`) may stand before and after every item, around the `-` of a range
//!   and after the last item. A single trailing comma is accepted (`"0,"`); an empty item is not.
//! * Every number must be below the bitmap size (16384 for domain CPU masks,
//!   [`CPUSET_MAX`]) and fit in a C `int`.
//! * An empty or all-whitespace text is an error, but a list whose removals cancel everything
//!   (`"1,^1"`) is a valid empty set.
//! * Formatting writes ascending ranges, `"0-3,5,7-8"`; the empty set formats as `""`.
//!
//! Every failure is `VIR_ERR_INVALID_ARG` "Failed to parse bitmap 'TEXT'".

use std::fmt;
use std::str::FromStr;

use crate::error::{Result, XmlError};

/// The number of CPUs a domain CPU mask can name (`VIR_DOMAIN_CPUMASK_LEN`): CPU numbers run
/// from 0 to `CPUSET_MAX - 1`.
pub const CPUSET_MAX: u32 = 16384;

/// A set of CPU numbers.
///
/// Stored as sorted, disjoint, non-adjacent inclusive ranges, so large ranges are cheap and
/// two equal sets always compare and hash equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet {
    ranges: Vec<(u32, u32)>,
}

impl CpuSet {
    /// The empty set.
    pub fn new() -> CpuSet {
        CpuSet { ranges: Vec::new() }
    }

    /// Parses a CPU list whose numbers must be below [`CPUSET_MAX`], as libvirt parses a
    /// domain's `cpuset` attributes.
    pub fn parse(text: &str) -> Result<CpuSet> {
        parse_list(text, Some(CPUSET_MAX))
    }

    /// Parses a CPU list whose numbers must be below `size` (`virBitmapParse` with a bitmap
    /// of `size` bits).
    pub fn parse_with_limit(text: &str, size: u32) -> Result<CpuSet> {
        parse_list(text, Some(size))
    }

    /// Parses a CPU list with no bound other than C's `INT_MAX`
    /// (`virBitmapParseUnlimited`).
    pub fn parse_unlimited(text: &str) -> Result<CpuSet> {
        parse_list(text, None)
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.locate(cpu).is_ok()
    }

    /// Adds `cpu`; returns whether it was not already present.
    pub fn insert(&mut self, cpu: u32) -> bool {
        if self.contains(cpu) {
            return false;
        }
        self.insert_range(cpu, cpu);
        true
    }

    /// Adds every CPU from `first` to `last` inclusive (nothing if `last < first`).
    pub fn insert_range(&mut self, first: u32, last: u32) {
        if last < first {
            return;
        }
        // Ranges that overlap or touch [first, last] are merged into it.
        let start = self
            .ranges
            .partition_point(|&(_, hi)| hi.saturating_add(1) < first);
        let end = self
            .ranges
            .partition_point(|&(lo, _)| lo <= last.saturating_add(1));
        let mut lo = first;
        let mut hi = last;
        if start < end {
            lo = lo.min(self.ranges[start].0);
            hi = hi.max(self.ranges[end - 1].1);
        }
        self.ranges.splice(start..end, [(lo, hi)]);
    }

    /// Removes `cpu`; returns whether it was present.
    pub fn remove(&mut self, cpu: u32) -> bool {
        let Ok(index) = self.locate(cpu) else {
            return false;
        };
        let (lo, hi) = self.ranges[index];
        match (lo == cpu, hi == cpu) {
            (true, true) => {
                self.ranges.remove(index);
            }
            (true, false) => self.ranges[index].0 = cpu + 1,
            (false, true) => self.ranges[index].1 = cpu - 1,
            (false, false) => {
                self.ranges[index].1 = cpu - 1;
                self.ranges.insert(index + 1, (cpu + 1, hi));
            }
        }
        true
    }

    /// Removes every CPU.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.ranges
            .iter()
            .map(|&(lo, hi)| (hi - lo) as usize + 1)
            .sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The lowest CPU in the set.
    pub fn first(&self) -> Option<u32> {
        self.ranges.first().map(|&(lo, _)| lo)
    }

    /// The highest CPU in the set.
    pub fn last(&self) -> Option<u32> {
        self.ranges.last().map(|&(_, hi)| hi)
    }

    /// Whether the two sets have a CPU in common.
    pub fn intersects(&self, other: &CpuSet) -> bool {
        let (mut a, mut b) = (
            self.ranges.iter().peekable(),
            other.ranges.iter().peekable(),
        );
        while let (Some(&&(alo, ahi)), Some(&&(blo, bhi))) = (a.peek(), b.peek()) {
            if ahi < blo {
                a.next();
            } else if bhi < alo {
                b.next();
            } else {
                return true;
            }
        }
        false
    }

    /// Whether every CPU of this set is also in `other`.
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.ranges.iter().all(|&(lo, hi)| {
            other
                .locate(lo)
                .is_ok_and(|index| other.ranges[index].1 >= hi)
        })
    }

    /// The CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(alo, ahi)), Some(&(blo, bhi))) = (self.ranges.get(i), other.ranges.get(j))
        {
            let (lo, hi) = (alo.max(blo), ahi.min(bhi));
            if lo <= hi {
                out.push((lo, hi));
            }
            if ahi < bhi {
                i += 1;
            } else {
                j += 1;
            }
        }
        CpuSet { ranges: out }
    }

    /// The CPUs in either set.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let mut out = self.clone();
        for &(lo, hi) in &other.ranges {
            out.insert_range(lo, hi);
        }
        out
    }

    /// The CPUs in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            ranges: self.ranges.iter(),
            current: None,
        }
    }

    /// The set as ascending, disjoint, non-adjacent inclusive ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// `Ok(index)` of the range holding `cpu`, or `Err(index)` where a range for it would go.
    fn locate(&self, cpu: u32) -> std::result::Result<usize, usize> {
        let index = self.ranges.partition_point(|&(_, hi)| hi < cpu);
        match self.ranges.get(index) {
            Some(&(lo, _)) if lo <= cpu => Ok(index),
            _ => Err(index),
        }
    }
}

/// Iterator over the CPUs of a [`CpuSet`], in ascending order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    ranges: std::slice::Iter<'a, (u32, u32)>,
    /// The next CPU to yield and the last CPU of its range.
    current: Option<(u32, u32)>,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (next, hi) = match self.current {
            Some(current) => current,
            None => *self.ranges.next()?,
        };
        self.current = if next < hi {
            Some((next + 1, hi))
        } else {
            None
        };
        Some(next)
    }
}

impl<'a> IntoIterator for &'a CpuSet {
    type Item = u32;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> CpuSet {
        let mut set = CpuSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<u32> for CpuSet {
    fn extend<I: IntoIterator<Item = u32>>(&mut self, iter: I) {
        for cpu in iter {
            self.insert(cpu);
        }
    }
}

impl FromStr for CpuSet {
    type Err = XmlError;

    /// Same as [`CpuSet::parse`].
    fn from_str(s: &str) -> Result<CpuSet> {
        CpuSet::parse(s)
    }
}

impl fmt::Display for CpuSet {
    /// libvirt's canonical form: ascending ranges, `"0-3,5,7-8"`, or `""` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// The parser behind [`CpuSet::parse`]: `limit` is the bitmap size, `None` for unlimited.
fn parse_list(text: &str, limit: Option<u32>) -> Result<CpuSet> {
    let fail = || XmlError::invalid_arg(format!("Failed to parse bitmap '{text}'"));
    let in_range = |cpu: u32| limit.is_none_or(|size| cpu < size);
    let mut cursor = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut set = CpuSet::new();

    cursor.skip_spaces();
    if cursor.at_end() {
        return Err(fail());
    }
    while !cursor.at_end() {
        let negate = cursor.eat(b'^');
        if !cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(fail());
        }
        let first = cursor.c_int().ok_or_else(fail)?;
        cursor.skip_spaces();
        match cursor.peek() {
            None | Some(b',') => {
                if !in_range(first) {
                    return Err(fail());
                }
                if negate {
                    set.remove(first);
                } else {
                    set.insert(first);
                }
            }
            Some(b'-') => {
                if negate {
                    return Err(fail());
                }
                cursor.pos += 1;
                cursor.skip_spaces();
                // libvirt reads the end of a range with strtol, which takes a sign.
                let last = cursor.signed_c_int().ok_or_else(fail)?;
                let last = u32::try_from(last).map_err(|_| fail())?;
                if last < first || !in_range(last) {
                    return Err(fail());
                }
                set.insert_range(first, last);
                cursor.skip_spaces();
            }
            Some(_) => {}
        }
        if cursor.eat(b',') {
            cursor.skip_spaces();
        } else if !cursor.at_end() {
            return Err(fail());
        }
    }
    Ok(set)
}

/// A position in the text being parsed.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_c_space) {
            self.pos += 1;
        }
    }

    /// Decimal digits (at least one) as a non-negative C `int`.
    fn c_int(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            value = value.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
            if value > i32::MAX as u32 {
                return None;
            }
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// What `virStrToLong_i` accepts: whitespace, an optional sign, then digits that fit
    /// a C `int`.
    fn signed_c_int(&mut self) -> Option<i64> {
        self.skip_spaces();
        let negative = match self.peek() {
            Some(b'-') => true,
            Some(b'+') => false,
            _ => return self.c_int().map(i64::from),
        };
        self.pos += 1;
        let magnitude = i64::from(self.c_int()?);
        Some(if negative { -magnitude } else { magnitude })
    }
}

/// C's `isspace` in the C locale (and GLib's `g_ascii_isspace`).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn cpus(text: &str) -> Vec<u32> {
        CpuSet::parse(text).unwrap().iter().collect()
    }

    fn parse_error(text: &str) -> XmlError {
        let err = CpuSet::parse(text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg, "{text:?}");
        assert_eq!(err.message, format!("Failed to parse bitmap '{text}'"));
        err
    }

    #[test]
    fn parses_libvirt_syntax() {
        assert_eq!(cpus("0"), [0]);
        assert_eq!(cpus("0-3"), [0, 1, 2, 3]);
        assert_eq!(cpus("0-3,^2,8"), [0, 1, 3, 8]);
        assert_eq!(cpus("3-3"), [3]);
        assert_eq!(cpus("8,0-1"), [0, 1, 8]);
        assert_eq!(cpus("0-1,1-2"), [0, 1, 2]);
        // Items apply in order: a removal only affects what came before it.
        assert_eq!(cpus("^2,0-3"), [0, 1, 2, 3]);
        assert_eq!(cpus("0-3,^2,2"), [0, 1, 2, 3]);
        assert_eq!(cpus("1,^1"), Vec::<u32>::new());
        assert_eq!(cpus("^5"), Vec::<u32>::new());
        assert_eq!(cpus("007"), [7]);
        assert_eq!(cpus("16383"), [16383]);
        assert_eq!(CpuSet::parse("0-16383").unwrap().len(), 16384);
    }

    #[test]
    fn whitespace_and_commas() {
        assert_eq!(cpus("  0 - 3 , ^2 ,\t8 \n"), [0, 1, 3, 8]);
        assert_eq!(cpus("\x0b1\x0c,\r2"), [1, 2]);
        assert_eq!(cpus("0,"), [0]);
        assert_eq!(cpus("0-1, "), [0, 1]);
        for bad in [
            "", " ", "\t\n", ",", ",0", "0,,1", "0 1", "0-1 2", "0, ,1", "^ 1",
        ] {
            parse_error(bad);
        }
    }

    #[test]
    fn range_end_is_read_like_strtol() {
        // libvirt reads the end of a range with strtol, which takes a sign.
        assert_eq!(cpus("0-+3"), [0, 1, 2, 3]);
        assert_eq!(cpus("0--0"), [0]);
        assert_eq!(cpus("2-+2"), [2]);
        parse_error("1--0");
        parse_error("0--1");
        parse_error("0-");
        parse_error("0-+");
        parse_error("0- ,");
        parse_error("0-+ 3");
        parse_error("0-0x3");
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in [
            "a", "-1", "+1", "1-a", "3-1", "^1-3", "^^1", "^", "1^", "0-3^2", "1;2", "1.5", "0x1",
            "1-2-3", "١",
        ] {
            parse_error(bad);
        }
    }

    #[test]
    fn enforces_the_size() {
        parse_error("16384");
        parse_error("0-16384");
        parse_error("^16384");
        parse_error("2147483647");
        parse_error("2147483648");
        parse_error("99999999999999999999");
        parse_error("0-2147483648");
        assert_eq!(CpuSet::parse_with_limit("0-7", 8).unwrap().len(), 8);
        let err = CpuSet::parse_with_limit("8", 8).unwrap_err();
        assert_eq!(
            err.libvirt_message(),
            "invalid argument: Failed to parse bitmap '8'"
        );
        assert_eq!(
            CpuSet::parse_unlimited("2147483646-2147483647")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [2147483646, 2147483647]
        );
        assert!(CpuSet::parse_unlimited("2147483648").is_err());
        assert!(CpuSet::parse_unlimited("^70000").unwrap().is_empty());
        assert!(CpuSet::parse_unlimited("").is_err());
    }

    #[test]
    fn formats_like_libvirt() {
        assert_eq!(CpuSet::new().to_string(), "");
        assert_eq!(cpus_set(&[5]).to_string(), "5");
        assert_eq!(cpus_set(&[7, 8]).to_string(), "7-8");
        assert_eq!(cpus_set(&[0, 1, 2, 3, 5, 7, 8]).to_string(), "0-3,5,7-8");
        assert_eq!(CpuSet::parse(" 8 ,0-3,^2").unwrap().to_string(), "0-1,3,8");
        assert_eq!("1,0".parse::<CpuSet>().unwrap().to_string(), "0-1");
    }

    fn cpus_set(list: &[u32]) -> CpuSet {
        list.iter().copied().collect()
    }

    #[test]
    fn set_operations() {
        let mut set = CpuSet::new();
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
        assert_eq!((set.first(), set.last()), (None, None));
        assert!(set.insert(4));
        assert!(!set.insert(4));
        assert!(set.insert(6));
        assert_eq!(set.ranges(), [(4, 4), (6, 6)]);
        assert!(set.insert(5));
        assert_eq!(set.ranges(), [(4, 6)]);
        set.insert_range(0, 2);
        assert_eq!(set.ranges(), [(0, 2), (4, 6)]);
        set.insert_range(3, 3);
        assert_eq!(set.ranges(), [(0, 6)]);
        set.insert_range(10, 9);
        assert_eq!(set.ranges(), [(0, 6)]);
        assert!(set.remove(3));
        assert!(!set.remove(3));
        assert!(set.remove(0));
        assert!(set.remove(6));
        assert_eq!(set.ranges(), [(1, 2), (4, 5)]);
        assert_eq!(set.len(), 4);
        assert_eq!((set.first(), set.last()), (Some(1), Some(5)));
        assert!(set.contains(2) && !set.contains(3) && !set.contains(0));
        set.insert(u32::MAX);
        assert!(set.contains(u32::MAX));
        assert_eq!(set.iter().last(), Some(u32::MAX));
        set.insert_range(u32::MAX - 1, u32::MAX);
        assert_eq!(set.last(), Some(u32::MAX));
        set.clear();
        assert!(set.is_empty());

        let a = CpuSet::parse("0-3,8-9").unwrap();
        let b = CpuSet::parse("4-7").unwrap();
        let c = CpuSet::parse("3,5").unwrap();
        assert!(!a.intersects(&b));
        assert!(a.intersects(&c) && c.intersects(&a) && b.intersects(&c));
        assert!(!a.intersects(&CpuSet::new()));
        assert_eq!(a.intersection(&c).to_string(), "3");
        assert_eq!(a.union(&b).to_string(), "0-9");
        assert!(CpuSet::parse("1-2,9").unwrap().is_subset(&a));
        assert!(!c.is_subset(&a));
        assert!(CpuSet::new().is_subset(&a));
        let collected: Vec<u32> = (&a).into_iter().collect();
        assert_eq!(collected, [0, 1, 2, 3, 8, 9]);
        let mut extended = a.clone();
        extended.extend([4, 5, 6, 7]);
        assert_eq!(extended.to_string(), "0-9");
    }

    fn arb_set() -> impl Strategy<Value = std::collections::BTreeSet<u32>> {
        prop_oneof![
            proptest::collection::btree_set(0..64u32, 0..40),
            proptest::collection::btree_set(0..CPUSET_MAX, 0..20),
        ]
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(model in arb_set()) {
            let set: CpuSet = model.iter().copied().collect();
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(set.len(), model.len());
            let text = set.to_string();
            if model.is_empty() {
                prop_assert_eq!(text, "");
            } else {
                let parsed = CpuSet::parse(&text);
                prop_assert_eq!(parsed.as_ref(), Ok(&set));
                // Canonical: formatting the parsed set gives the same text.
                prop_assert_eq!(parsed.map(|p| p.to_string()), Ok(text));
            }
        }

        #[test]
        fn set_operations_match_a_model(a in arb_set(), b in arb_set(), removed in arb_set()) {
            let mut set: CpuSet = a.iter().copied().collect();
            let mut model = a.clone();
            for cpu in &removed {
                prop_assert_eq!(set.remove(*cpu), model.remove(cpu));
            }
            let other: CpuSet = b.iter().copied().collect();
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(set.first(), model.first().copied());
            prop_assert_eq!(set.last(), model.last().copied());
            prop_assert_eq!(set.intersects(&other), !model.is_disjoint(&b));
            prop_assert_eq!(set.is_subset(&other), model.is_subset(&b));
            prop_assert_eq!(
                set.intersection(&other).iter().collect::<Vec<_>>(),
                model.intersection(&b).copied().collect::<Vec<_>>()
            );
            prop_assert_eq!(
                set.union(&other).iter().collect::<Vec<_>>(),
                model.union(&b).copied().collect::<Vec<_>>()
            );
            // The representation is canonical, so equal sets are equal values.
            let rebuilt: CpuSet = model.iter().rev().copied().collect();
            prop_assert_eq!(rebuilt, set);
        }

        #[test]
        fn parse_never_panics(text in "[0-9 ,^+\\-]{0,16}") {
            let _ = CpuSet::parse(&text);
        }
    }
}
