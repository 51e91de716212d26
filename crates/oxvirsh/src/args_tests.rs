use super::*;
use crate::commands::table::lookup;

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| (*w).to_owned()).collect()
}

fn parse(line: &str) -> Result<Cmd, ParseError> {
    let mut cmds = split_line(line)?;
    assert_eq!(cmds.len(), 1, "one command in {line:?}");
    parse_command(&cmds.remove(0), lookup)
}

fn err(line: &str) -> String {
    parse(line).unwrap_err().to_string()
}

#[test]
fn splits_commands_on_semicolons_newlines_and_comments() {
    assert_eq!(
        split_line("list --all; uri\nhostname # a comment; not a command").unwrap(),
        vec![
            words(&["list", "--all"]),
            words(&["uri"]),
            words(&["hostname"])
        ]
    );
    assert_eq!(
        split_line("  ;; # only a comment").unwrap(),
        Vec::<Vec<String>>::new()
    );
    // '#' inside a word is not a comment
    assert_eq!(
        split_line("echo a#b").unwrap(),
        vec![words(&["echo", "a#b"])]
    );
}

#[test]
fn quotes_and_escapes_as_virsh() {
    assert_eq!(
        split_line("dominfo 'te'st").unwrap(),
        vec![words(&["dominfo", "test"])]
    );
    assert_eq!(
        split_line(r#"x "a b;c" 'd\e' f\ g "h\"i""#).unwrap(),
        vec![words(&["x", "a b;c", r"d\e", "f g", "h\"i"])]
    );
    // an unterminated single quote runs to the end; a double quote must be closed
    assert_eq!(
        split_line("dominfo 'test").unwrap(),
        vec![words(&["dominfo", "test"])]
    );
    assert_eq!(
        split_line("dominfo \"test").unwrap_err().to_string(),
        "missing \""
    );
    assert_eq!(
        split_line("dominfo test\\").unwrap_err().to_string(),
        "dangling \\"
    );
    // backslash-newline joins lines
    assert_eq!(
        split_line("list \\\n--all").unwrap(),
        vec![words(&["list", "--all"])]
    );
}

#[test]
fn options_by_name_value_or_position_anywhere() {
    let c = parse("setmem --size=512M test --config").unwrap();
    assert_eq!(c.get("size"), Some("512M"));
    assert_eq!(c.get("domain"), Some("test"));
    assert!(c.has("config") && !c.has("live"));
    let c = parse("setmem --size 512M test").unwrap();
    assert_eq!(
        (c.get("domain"), c.get("size")),
        (Some("test"), Some("512M"))
    );
    let c = parse("setmem test 1G").unwrap();
    assert_eq!((c.get("domain"), c.get("size")), (Some("test"), Some("1G")));
    // optional strings fill positions too (virsh 9.0: shutdown's --mode, event's --domain)
    let c = parse("shutdown test acpi").unwrap();
    assert_eq!(c.get("mode"), Some("acpi"));
    let c = parse("event test lifecycle 1").unwrap();
    assert_eq!(
        (c.get("domain"), c.get("event"), c.get("timeout")),
        (Some("test"), Some("lifecycle"), Some("1"))
    );
}

#[test]
fn aliases_map_to_their_option() {
    let c = parse("setmem test --kilobytes 1000").unwrap();
    assert_eq!(c.get("size"), Some("1000"));
    let c = parse("undefine test --delete-snapshots").unwrap();
    assert!(c.has("delete-storage-volume-snapshots"));
}

#[test]
fn double_dash_makes_the_rest_positional() {
    let c = parse("dominfo -- --weird-name").unwrap();
    assert_eq!(c.get("domain"), Some("--weird-name"));
    // a bare '-x' is data
    assert_eq!(err("dominfo -x test"), "unexpected data 'test'");
}

#[test]
fn argv_options_collect_the_remaining_words() {
    let c = parse("snapshot-create-as test a b vda vdb --diskspec vdc").unwrap();
    assert_eq!(c.all("diskspec"), vec!["vda", "vdb", "vdc"]);
    assert_eq!(
        (c.get("name"), c.get("description")),
        (Some("a"), Some("b"))
    );
}

#[test]
fn errors_are_virshs_words() {
    assert_eq!(err("bogus"), "unknown command: 'bogus'");
    assert_eq!(
        err("list --foo"),
        "command 'list' doesn't support option --foo"
    );
    assert_eq!(err("dominfo"), "command 'dominfo' requires <domain> option");
    assert_eq!(
        err("save"),
        "command 'save' requires <domain> option\ncommand 'save' requires <file> option"
    );
    assert_eq!(
        err("setmem test"),
        "command 'setmem' requires --size option"
    );
    assert_eq!(err("dominfo test extra"), "unexpected data 'extra'");
    assert_eq!(
        err("dominfo --domain=test --domain test"),
        "option --domain already seen"
    );
    assert_eq!(
        err("dominfo --domain"),
        "expected syntax: --domain <string>"
    );
    assert_eq!(
        err("event --all --timeout"),
        "expected syntax: --timeout <number>"
    );
    assert_eq!(err("list --all=yes"), "invalid '=' after option --all");
    assert_eq!(
        err("dumpxml test /domain/name"),
        "unexpected data '/domain/name'"
    );
    assert_eq!(
        err("snapshot-create-as test a b --memspec"),
        "expected syntax: --memspec <string>"
    );
}

#[test]
fn help_and_json_are_accepted_by_every_command() {
    let c = parse("dominfo --help").unwrap();
    assert!(c.help && !c.json);
    let c = parse("list --all --json").unwrap();
    assert!(c.json && c.has("all"));
    // `help` ignores what it does not know
    let c = parse("help list extra --bogus").unwrap();
    assert_eq!(c.get("command"), Some("list"));
}

#[test]
fn option_values_are_read_as_virsh_reads_them() {
    let c = parse("setvcpus test 3").unwrap();
    assert_eq!(c.uint("count"), Ok(Some(3)));
    let c = parse("setvcpus test -1").unwrap();
    assert_eq!(
        c.uint("count"),
        Err("Numeric value '-1' for <count> option is malformed or out of range".to_owned())
    );
    let c = parse("save test ''").unwrap();
    assert_eq!(
        c.string("file"),
        Err("Failed to get option 'file': Option argument is empty".to_owned())
    );
}

#[test]
fn scaled_sizes_with_units() {
    assert_eq!(scale_integer("1", 1024, u64::MAX), Ok(1024));
    assert_eq!(scale_integer("1G", 1024, u64::MAX), Ok(1 << 30));
    assert_eq!(scale_integer("1GiB", 1024, u64::MAX), Ok(1 << 30));
    assert_eq!(scale_integer("2KB", 1024, u64::MAX), Ok(2000));
    assert_eq!(scale_integer("3b", 1024, u64::MAX), Ok(3));
    assert_eq!(scale_integer("512M", 1024, u64::MAX), Ok(512 << 20));
    assert_eq!(scale_integer("1e", 1024, u64::MAX), Ok(1 << 60));
    assert_eq!(
        scale_integer("1xyz", 1024, u64::MAX),
        Err(Some("invalid argument: unknown suffix 'xyz'".to_owned()))
    );
    assert_eq!(
        scale_integer("1.5G", 1024, u64::MAX),
        Err(Some("invalid argument: unknown suffix '.5G'".to_owned()))
    );
    assert_eq!(scale_integer("-5", 1024, u64::MAX), Err(None));
    assert_eq!(scale_integer("G", 1024, u64::MAX), Err(None));
    assert_eq!(
        scale_integer("100000000000000000T", 1024, u64::MAX),
        Err(Some(
            "numerical overflow: value too large: 100000000000000000T".to_owned()
        ))
    );
    let c = parse("setmem test 1xyz").unwrap();
    let e = c.scaled("size", 1024, u64::MAX).unwrap_err();
    assert_eq!(
        e.message,
        "Scaled numeric value '1xyz' for <size> option is malformed or out of range"
    );
}

#[test]
fn c_style_numbers() {
    assert_eq!(parse_c_long(" 12"), Some(12));
    assert_eq!(parse_c_long("+3"), Some(3));
    assert_eq!(parse_c_long("-3"), Some(-3));
    assert_eq!(parse_c_long("3x"), None);
    assert_eq!(parse_c_long(""), None);
    assert_eq!(parse_c_long("-"), None);
}
