//! Volume names in a `dir` pool: one path component, nothing more.

use std::path::Path;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// Checks that `name` names an entry directly inside the pool directory `pool_path`.
///
/// libvirt's file system backends refuse a volume name containing `/` (which includes
/// absolute paths) with `VIR_ERR_OPERATION_INVALID`, "volume name '%s' cannot contain '/'";
/// `.` and `..` fail there because the target path exists ("volume target path '%s' already
/// exists", same code). oxvirt reports those the same way and refuses the empty name and
/// names containing NUL (which libvirt's XML parser never lets through) with the same code.
pub fn check_volume_name(pool_path: &Path, name: &str) -> Result<(), VirError> {
    let refuse = |detail: String| {
        Err(VirError::new(
            ErrorDomain::Storage,
            ErrorCode::OperationInvalid,
            detail,
        ))
    };
    if name.contains('/') {
        return refuse(format!("volume name '{name}' cannot contain '/'"));
    }
    if name == "." || name == ".." {
        return refuse(format!(
            "volume target path '{}/{name}' already exists",
            pool_path.display()
        ));
    }
    if name.is_empty() || name.contains('\0') {
        return refuse(format!(
            "volume name '{}' is not valid",
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
        let pool = Path::new("/pool");
        for bad in ["", ".", "..", "a/b", "../x", "/etc/passwd", "x\0y", "a/"] {
            let err = check_volume_name(pool, bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::OperationInvalid, "{bad:?}");
        }
        let err = check_volume_name(pool, "a/b").expect_err("slash");
        assert_eq!(
            err.message,
            "Requested operation is not valid: volume name 'a/b' cannot contain '/'"
        );
        let err = check_volume_name(pool, "..").expect_err("dotdot");
        assert_eq!(
            err.message,
            "Requested operation is not valid: volume target path '/pool/..' already exists"
        );
        for good in ["disk.img", ".hidden", "...", "a b", "x..y"] {
            check_volume_name(pool, good).expect(good);
        }
    }
}
