//! Volume names in a `dir` pool: one path component, nothing more.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// Checks that `name` names an entry directly inside the pool directory.
///
/// libvirt's file system backends refuse a volume name containing `/` with
/// `VIR_ERR_INVALID_ARG` ("volume name '%s' cannot contain '/'"); that also covers absolute
/// paths. oxvirt further refuses the empty name, `.`, `..` and names containing NUL, with the
/// same code.
pub fn check_volume_name(name: &str) -> Result<(), VirError> {
    let refuse = |detail: String| {
        Err(VirError::new(
            ErrorDomain::Storage,
            ErrorCode::InvalidArg,
            detail,
        ))
    };
    if name.contains('/') {
        return refuse(format!("volume name '{name}' cannot contain '/'"));
    }
    if name.is_empty() || name == "." || name == ".." {
        return refuse(format!("invalid volume name '{name}'"));
    }
    if name.contains('\0') {
        return refuse(format!(
            "volume name '{}' cannot contain NUL",
            name.replace('\0', "\\0")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_and_specials() {
        for bad in ["", ".", "..", "a/b", "../x", "/etc/passwd", "x\0y", "a/"] {
            let err = check_volume_name(bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidArg, "{bad:?}");
        }
        let err = check_volume_name("a/b").expect_err("slash");
        assert_eq!(
            err.message,
            "invalid argument: volume name 'a/b' cannot contain '/'"
        );
        for good in ["disk.img", ".hidden", "...", "a b", "x..y"] {
            check_volume_name(good).expect(good);
        }
    }
}
