//! The readers against databases rpm itself wrote (`collector/tests/fixtures/rpmdb/make.sh`: packages
//! built with rpmbuild, installed with Debian's rpm; the Berkeley DB copy written by db5.3_load and read
//! back by rpm's own `bdb_ro` backend), compared with what `rpm -qa` listed from the same files; and two
//! databases written on real distributions (`fixtures/rpmdb/public/`, see its README): RHEL 8's Berkeley
//! DB and SUSE 15's ndb.

use super::*;
use minetrace_schemas::records::package::DigestAlgorithm;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rpmdb");

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{rel}")).unwrap()
}

/// One line per file, in `rpm -qa --qf` order of fields (see make.sh), sorted.
fn ours(packages: &[RpmPackage]) -> Vec<String> {
    let mut lines = Vec::new();
    for p in packages {
        let algo = match p.digest_algorithm {
            Some(DigestAlgorithm::Md5) => "(none)".to_string(),
            Some(DigestAlgorithm::Sha256) => "8".to_string(),
            other => format!("{other:?}"),
        };
        for f in &p.files {
            lines.push(format!(
                "{} {algo} {:o} {} {} {} {}",
                p.nevra(),
                f.mode,
                f.flags,
                f.state.map_or("(none)".to_string(), |s| s.to_string()),
                String::from_utf8_lossy(&f.path),
                f.digest
            ));
        }
    }
    lines.sort();
    lines
}

fn rpm_listing(rel: &str) -> Vec<String> {
    let text = String::from_utf8(fixture(rel)).unwrap();
    text.lines().map(str::to_owned).collect()
}

fn collect(read: impl FnOnce(&mut BlobSink<'_>)) -> (Vec<RpmPackage>, usize, Vec<String>) {
    let mut packages = Vec::new();
    let mut push = |p| packages.push(p);
    let mut sink = BlobSink::new(&mut push);
    read(&mut sink);
    let (bad, errors) = (sink.bad_blobs, sink.errors.clone());
    drop(sink);
    (packages, bad, errors)
}

#[test]
fn sqlite_with_its_log_matches_rpm() {
    let db = fixture("sqlite/rpmdb.sqlite");
    let wal = fixture("sqlite/rpmdb.sqlite-wal");
    let mut used_log = false;
    let (packages, bad, errors) = collect(|s| {
        used_log = sqlite::read_bytes(&db, Some(&wal), s).unwrap();
    });
    assert!(used_log);
    assert_eq!((bad, errors), (0, Vec::<String>::new()));
    assert_eq!(ours(&packages), rpm_listing("sqlite/rpm-qa.txt"));
    assert!(packages
        .iter()
        .any(|p| p.nevra() == "mt-late-2.0-1.el9.x86_64"));
    let legacy = packages.iter().find(|p| p.name == "mt-legacy").unwrap();
    assert_eq!(legacy.digest_algorithm, Some(DigestAlgorithm::Md5));
    assert_eq!(legacy.files[0].digest.len(), 32);
}

#[test]
fn the_row_only_in_the_log_is_missed_without_it() {
    let db = fixture("sqlite/rpmdb.sqlite");
    let (packages, _, _) = collect(|s| {
        sqlite::read_bytes(&db, None, s).unwrap();
    });
    let names: Vec<_> = packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["mt-procps", "mt-openssh", "mt-legacy"]);
}

#[test]
fn berkeley_db_matches_rpm_bdb_ro() {
    let db = fixture("bdb/Packages");
    let (packages, bad, errors) = collect(|s| bdb::read_bytes(&db, s).unwrap());
    assert_eq!((bad, errors), (0, Vec::<String>::new()));
    assert_eq!(packages.len(), 3);
    assert_eq!(ours(&packages), rpm_listing("bdb/rpm-qa.txt"));
}

#[test]
fn damaged_databases_are_errors_not_panics() {
    let db = fixture("bdb/Packages");
    // Every truncation and a sweep of byte flips: errors or fewer packages, never a panic.
    for cut in (0..db.len()).step_by(509) {
        let _ = collect(|s| {
            let _ = bdb::read_bytes(&db[..cut], s);
        });
    }
    for at in (0..db.len()).step_by(97) {
        let mut d = db.clone();
        d[at] ^= 0xa5;
        let _ = collect(|s| {
            let _ = bdb::read_bytes(&d, s);
        });
    }
    let sq = fixture("sqlite/rpmdb.sqlite");
    let wal = fixture("sqlite/rpmdb.sqlite-wal");
    for at in (0..wal.len()).step_by(331) {
        let mut w = wal.clone();
        w[at] ^= 0x5a;
        let _ = collect(|s| {
            let _ = sqlite::read_bytes(&sq, Some(&w), s);
        });
    }
    assert!(bdb::read_bytes(b"not a database at all", &mut BlobSink::new(&mut |_| {})).is_err());
    assert!(
        sqlite::read_bytes(b"SQLite format 3\0", None, &mut BlobSink::new(&mut |_| {})).is_err()
    );
}

#[test]
fn locate_and_read_a_host_tree() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("usr/lib/sysimage/rpm")).unwrap();
    std::fs::create_dir_all(r.join("var/lib")).unwrap();
    // Fedora's layout: /var/lib/rpm is a link to the sysimage directory.
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", r.join("var/lib/rpm")).unwrap();
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        std::fs::write(
            r.join("usr/lib/sysimage/rpm").join(f),
            fixture(&format!("sqlite/{f}")),
        )
        .unwrap();
    }
    let root = HostRoot::under(r).unwrap();
    let (backend, path) = locate(&root).unwrap();
    assert_eq!(backend, Backend::Sqlite);
    assert_eq!(path, b"/usr/lib/sysimage/rpm/rpmdb.sqlite");
    let mut n = 0;
    let report = read(&root, backend, &path, &mut |_| n += 1).unwrap();
    assert_eq!((report.packages, n, report.used_log), (4, 4, true));

    let ndb = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ndb.path().join("var/lib/rpm")).unwrap();
    std::fs::write(ndb.path().join("var/lib/rpm/Packages.db"), b"RpmP").unwrap();
    let root = HostRoot::under(ndb.path()).unwrap();
    let (backend, path) = locate(&root).unwrap();
    assert_eq!(backend, Backend::Ndb);
    assert!(read(&root, backend, &path, &mut |_| {})
        .unwrap_err()
        .contains("ndb"));
}

#[test]
fn rhel8_berkeley_db_matches_rpm_bdb_ro() {
    let db = fixture("public/el8-libuuid-Packages");
    let (packages, bad, errors) = collect(|s| bdb::read_bytes(&db, s).unwrap());
    assert_eq!((bad, errors), (0, Vec::<String>::new()));
    assert_eq!(
        ours(&packages),
        rpm_listing("public/el8-libuuid-rpm-qa.txt")
    );
}

#[test]
fn sle15_ndb_lists_the_packages_go_rpmdb_lists() {
    let db = fixture("public/sle15-bci-Packages.db");
    let (packages, bad, errors) = collect(|s| ndb::read_bytes(&db, s).unwrap());
    assert_eq!((bad, errors), (0, Vec::<String>::new()));
    let mut ours: Vec<String> = packages.iter().map(RpmPackage::nevra).collect();
    let mut want = rpm_listing("public/sle15-bci-nevra.txt");
    ours.sort();
    want.sort();
    assert_eq!(ours, want);
    let bash = packages.iter().find(|p| p.name == "bash").unwrap();
    // SUSE 15 moved bash to /usr/bin and keeps /bin/bash as a link.
    let link = bash.files.iter().find(|f| f.path == b"/bin/bash").unwrap();
    assert!(!link.is_regular() && link.digest.is_empty());
    let sh = bash
        .files
        .iter()
        .find(|f| f.path == b"/usr/bin/bash")
        .unwrap();
    assert!(sh.is_regular() && sh.mode & 0o111 != 0 && sh.digest.len() == 64);
    // Damage: never a panic.
    for at in (0..db.len()).step_by(4099) {
        let mut d = db.clone();
        d[at] ^= 0xff;
        let _ = collect(|s| {
            let _ = ndb::read_bytes(&d, s);
        });
    }
    for cut in [0, 31, 32, 4096, 40_000, db.len() / 2] {
        let _ = collect(|s| {
            let _ = ndb::read_bytes(&db[..cut], s);
        });
    }
}
